"""`genrec bench-slate`: one checkpoint, a page of k items three ways, in one run on one engine —
- `beam`: the top k of one width-20 beam search (what serving does by default),
- `item-by-item`: k beam searches, item j's prompt holding items 1..j-1 (autoregressive pages),
- `slate`: HiGR's plan, then all slots in parallel (`slate_search`) —
each with page quality on the test split (Recall / NDCG of the page, distinct first codes per
page, duplicates per page) and page latency per batch size (p50 / p99, pages/s), plus the
slate's speed-up over item-by-item and over beam, measured in the same run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from genrec.bench.report import write_merged
from genrec.data.split import EvalSet
from genrec.engine.engine import DecodeEngine, EngineConfig, decoder_engine
from genrec.eval.evaluate import TopKRecommender
from genrec.eval.metrics import (
    invalid_rate,
    page_diversity,
    page_duplicates,
    ranks_from_topk,
    summarize,
)
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore
from genrec.train.evaluation import EngineRecommender, ItemByItemRecommender

COLUMNS = (
    "dataset", "checkpoint", "mode", "recall@10", "ndcg@10", "diversity@10", "duplicates@10",
    "invalid_rate", "ms_p50_b1", "ms_p99_b1", "pages_per_s_b64", "speedup_vs_item_by_item_b1",
    "speedup_vs_item_by_item_b64", "speedup_vs_beam_b1", "trained_by", "hardware", "command",
)  # fmt: skip


def recommenders(
    decoder: SIDDecoder, engine: DecodeEngine, store: TokenizerStore, max_history: int
) -> dict[str, TopKRecommender]:
    """The three ways to a page, on one engine."""
    return {
        "beam": EngineRecommender(decoder, engine, store),
        "item-by-item": ItemByItemRecommender(decoder, engine, store, max_history),
        "slate": EngineRecommender(decoder, engine, store, slate=True),
    }


def page_quality(
    recommender: TopKRecommender, data: EvalSet, store: TokenizerStore, k: int, batch: int = 256
) -> dict:
    """Recall / NDCG of each user's page against the held-out item, plus what a page is made of."""
    pages = np.concatenate([
        recommender.recommend(data.users[s : s + batch], data.histories[s : s + batch], k)
        for s in range(0, len(data), batch)
    ])  # fmt: skip
    metrics = summarize(ranks_from_topk(pages, data.targets), (5, k))
    return {
        **metrics,
        f"diversity@{k}": page_diversity(pages, store.item_sids[:, 0]),
        f"duplicates@{k}": page_duplicates(pages),
        "invalid_rate": invalid_rate(pages, len(store.item_ids)),
    }


def page_latency(
    recommender: TopKRecommender, data: EvalSet, k: int, batch: int, repeats: int
) -> dict:
    """Wall time of whole calls (prompt building included, results on the host) for one batch
    of `batch` test users, after warm-up (graph capture) calls."""
    users, histories = data.users[:batch], data.histories[:batch]
    for _ in range(2):
        recommender.recommend(users, histories, k)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        recommender.recommend(users, histories, k)
        times.append((time.perf_counter() - start) * 1e3)
    p50 = float(np.percentile(times, 50))
    return {f"ms_p50_b{batch}": p50, f"ms_p99_b{batch}": float(np.percentile(times, 99)),
            f"pages_per_s_b{batch}": batch / p50 * 1e3}  # fmt: skip


@torch.no_grad()
def bench_slates(
    decoder: SIDDecoder,
    store: TokenizerStore,
    test: EvalSet,
    device: torch.device,
    k: int = 10,
    batches: tuple[int, ...] = (1, 64),
    repeats: int = 20,
    max_history: int = 20,
    caps: tuple[int, ...] = (4,),
) -> list[dict]:
    """→ one row per mode: page quality on `test` and latency per batch size, with speed-ups;
    slates once per per-code cap (`slate` at the slot beam width 4, `slate capN` below it)."""
    engine = decoder_engine(decoder, store, device, EngineConfig.served(beam=20))
    decoders = recommenders(decoder.to(device).eval(), engine, store, max_history)
    runs = [(mode, r, None) for mode, r in decoders.items() if mode != "slate"]
    runs += [("slate" if c == engine.slate_beam else f"slate cap{c}", decoders["slate"], c)
             for c in caps]  # fmt: skip
    rows = []
    for mode, recommender, cap in runs:
        engine.slate_cap = cap or engine.slate_beam
        row = {"mode": mode, **page_quality(recommender, test, store, k)}
        for batch in batches:
            row |= page_latency(recommender, test, k, min(batch, len(test)), repeats)
        rows.append(row)
    by_mode = {r["mode"]: r for r in rows}
    for row in rows:
        for batch in batches:
            for base in ("item-by-item", "beam"):
                key = f"speedup_vs_{base.replace('-', '_')}_b{batch}"
                row[key] = by_mode[base][f"ms_p50_b{batch}"] / row[f"ms_p50_b{batch}"]
    return rows


def write_slate_report(rows: list[dict], path: Path) -> str:
    """Merge rows (keyed by dataset, checkpoint and mode) into `path` and rewrite its Markdown."""
    header = (
        "# Whole-page generation: HiGR slates against beam search and item-by-item pages\n\n"
        f"Generated from `{path.name}` (`genrec bench-slate`). Test split, one held-out item "
        "per user: Recall / NDCG@10 of the 10-item page in its order. `diversity@10`: "
        "distinct first SID codes per page; `duplicates@10`: repeated items per page. "
        "Latency: whole calls for a batch of 1 or 64 users on the same engine, CUDA graphs "
        "on a GPU; speed-ups are ratios of p50 page latency in the same run. Each row names "
        "its checkpoint, command and hardware.\n\n"
    )
    write_merged(path, rows, ("dataset", "checkpoint", "mode"), header, COLUMNS)
    return path.with_suffix(".md").read_text()
