"""`genrec bench-decode`: the engine against Hugging Face `generate` + a trie callback, same run.

Default setting: Qwen2 decoders with random weights, 12,101 items with random unique 4-level
SIDs, prompt = BOS + 20 history items x 4 tokens (81 tokens), beam 20, top 10. NVIDIA's
published generative-recommender inference example (recsys-examples `sid-gr-inference`: a
Qwen3-1.7B decoder, 1,000-token context, beam 256, 3 SID levels x 256 codes) is the same job at
another shape: `--sizes 1.4b --beam 256 --sid-depth 3 --n-items 100000 --history 333
--batches 1,8,32`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from genrec.bench.decode_profile import profile_rows, profile_search
from genrec.bench.report import markdown_table, merge_rows, pyplot, save_figure
from genrec.engine.beam_search import select
from genrec.engine.engine import DecodeEngine, EngineConfig
from genrec.engine.reference import PrefixTrie, hf_beam_search
from genrec.model.config import build_decoder
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore
from genrec.tokenizer.trie import Trie


@dataclass(frozen=True)
class DecodeBench:
    sizes: tuple[str, ...] = ("26m", "200m")
    batches: tuple[int, ...] = (1, 16, 64, 256)
    beam: int = 20
    k: int = 10
    sid_depth: int = 4  # tokens per item
    n_items: int = 12_101
    history: int = 20  # items per prompt
    engine_iters: int = 50  # timed calls per (model, batch)
    hf_requests: int = 512  # requests the reference decodes per (model, batch), at least one batch
    hf_max_batch: int | None = None  # the reference only up to this batch (it copies the prompt
    # per beam: at beam 256 and 1,000 tokens its cache outgrows the GPU beyond batch 1)
    masked: bool = True  # also time the masked-attention path, the beam kernel's baseline
    exact_prompts: int = 1000  # prompts compared against the reference (float32, first size)
    profile: bool = False  # kernel families of one search at the smallest and largest batch
    seed: int = 0


def random_store(n_items: int, vocab: SIDVocab, seed: int) -> TokenizerStore:
    """A store of `n_items` random unique SIDs: enough for speed, with no training behind it."""
    rng = np.random.default_rng(seed)
    sids = np.unique(rng.integers(0, vocab.codebook_size, (2 * n_items, vocab.sid_depth)), axis=0)
    sids = sids[rng.permutation(len(sids))[:n_items]]
    manifest = {
        "dataset": "random",
        "version": "bench",
        "sid_depth": vocab.sid_depth,
        "codebook_size": vocab.codebook_size,
    }
    return TokenizerStore(
        manifest,
        [str(i) for i in range(n_items)],
        sids,
        [],
        np.zeros((0, 3), np.int64),
        np.zeros(3, np.int64),
        {},
        Trie.build(sids, vocab.codebook_size),
    )


def random_prompts(
    store: TokenizerStore, vocab: SIDVocab, n: int, history: int, seed: int
) -> np.ndarray:
    """(n, 1 + history * depth) token ids: a batch as Triton hands it to a model, one array.
    Both the engine and the reference take it as it is."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(store.item_ids), (n, history))
    return np.array([vocab.history_prompt(torch.from_numpy(store.item_sids[p])) for p in picks])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def exactness(model, store, vocab, prompts, beam, k, device) -> dict:
    """Engine (float32) vs the reference on the same prompts: item and score agreement."""
    config = EngineConfig(beam=beam, dtype=torch.float32, cuda_graphs=False)
    engine = DecodeEngine(model, store, vocab, device, config)
    trie = PrefixTrie(store.item_sids, vocab)
    ours_items, ours_scores, ref_items, ref_scores = [], [], [], []
    for start in range(0, len(prompts), 100):
        batch = prompts[start : start + 100]
        rec = engine.recommend(batch, k)
        items, scores = hf_beam_search(model, trie, vocab, batch, beam, k)
        ours_items.append(rec.items.numpy()), ours_scores.append(rec.scores.numpy())
        ref_items.append(items), ref_scores.append(scores)
    a, b = np.concatenate(ours_items), np.concatenate(ref_items)
    sa, sb = np.concatenate(ours_scores), np.concatenate(ref_scores)
    same_set = np.mean([set(x) == set(y) for x, y in zip(a, b, strict=True)])
    return {
        "prompts": len(prompts),
        "exact_lists": float(np.mean((a == b).all(1))),
        "same_item_sets": float(same_set),
        "max_score_diff": float(np.abs(sa - sb).max()),
        "invalid_ids": int((a < 0).sum()),
    }


def mask_share(engine: DecodeEngine, batch: int, seconds_per_call: float) -> float:
    """Share of one search call spent in trie masking + log-softmax + top-k: the four `select`
    steps alone, on logits of the same shapes, timed the way the engine runs (graphed on CUDA)."""
    vocab, W, device = engine.vocab, engine.beam, engine.device
    first = torch.randn(batch, 1, vocab.size, device=device)
    rest = torch.randn(batch, W, vocab.size, device=device)

    def run() -> torch.Tensor:
        scores = torch.zeros(batch, 1, device=device)
        nodes = torch.zeros(batch, 1, dtype=torch.long, device=device)
        for level in range(vocab.sid_depth):
            scores, nodes, _, _ = select(
                first if level == 0 else rest, scores, nodes, level, engine.trie, vocab, W, None
            )
        return scores

    call = run
    if device.type == "cuda":
        run(), torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            run()
        call = graph.replay
    times = time_calls(call, 20, device)
    return float(np.median(times) / seconds_per_call)


def time_calls(fn, iters: int, device: torch.device) -> np.ndarray:
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return np.array(times)


def _bench_model(
    model, store, vocab, prompts, cfg: DecodeBench, device, gpu, command
) -> list[dict]:
    params = sum(p.numel() for p in model.parameters())
    if device.type == "cuda":
        model = model.to(torch.bfloat16)  # the reference runs in bf16 like the engine
    config = EngineConfig(beam=cfg.beam, prompt_multiple=1)
    engine = DecodeEngine(model, store, vocab, device, config)
    masked = None
    if cfg.masked and engine.runner.beam_kernel:
        masked = DecodeEngine(model, store, vocab, device, replace(config, beam_kernel=False))
    trie = PrefixTrie(store.item_sids, vocab)
    rows = []
    for batch in cfg.batches:
        batch_prompts = prompts[:batch]

        def engine_call(p=batch_prompts, e=engine):
            return e.recommend(p, cfg.k)

        def hf_call(p=batch_prompts):
            return hf_beam_search(model, trie, vocab, p, cfg.beam, cfg.k)

        engine_call()  # captures the CUDA graph
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = time_calls(engine_call, cfg.engine_iters, device)
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
        row = {
            "model_params": params, "batch": batch, "beam": cfg.beam,
            "prompt_tokens": prompts.shape[1], "sid_depth": vocab.sid_depth,
            "n_items": len(store.item_ids),
            "engine_ms_p50": float(np.percentile(times, 50) * 1e3),
            "engine_ms_p99": float(np.percentile(times, 99) * 1e3),
            "engine_rps": batch / float(np.median(times)),
            "mask_share": mask_share(engine, batch, float(np.median(times))),
            "peak_gpu_gb": peak, "gpu": gpu, "command": command,
        }  # fmt: skip
        if masked is not None:
            masked.recommend(batch_prompts, cfg.k)
            masked_times = time_calls(
                functools.partial(engine_call, e=masked), cfg.engine_iters, device
            )
            row["masked_ms_p50"] = float(np.median(masked_times) * 1e3)
            row["kernel_speedup"] = row["masked_ms_p50"] / row["engine_ms_p50"]
            masked._graphs.clear()  # the graphs' memory back before the next batch
        if cfg.hf_max_batch is None or batch <= cfg.hf_max_batch:
            hf_call()  # warm-up
            hf_times = time_calls(hf_call, max(1, cfg.hf_requests // batch), device)
            row["hf_ms_p50"] = float(np.median(hf_times) * 1e3)
            row["hf_rps"] = batch / float(np.median(hf_times))
            row["speedup"] = row["engine_rps"] / row["hf_rps"]
        rows.append(row)
    profiled = []
    if cfg.profile:
        for batch in sorted({min(cfg.batches), max(cfg.batches)}):
            base = {"gpu": gpu, "batch": batch, "command": command}
            profiled += profile_rows(profile_search(engine, prompts[:batch], cfg.k), base)
    return rows, profiled


def run_bench(
    cfg: DecodeBench, device: torch.device, gpu: str, command: str
) -> tuple[list[dict], dict, list[dict]]:
    """→ one row per (model size, batch), the exactness check (float32, first size) and, with
    `cfg.profile`, the kernel-family rows."""
    vocab = SIDVocab(sid_depth=cfg.sid_depth)
    store = random_store(cfg.n_items, vocab, cfg.seed)
    n_prompts = max(max(cfg.batches), cfg.exact_prompts)
    prompts = random_prompts(store, vocab, n_prompts, cfg.history, cfg.seed)
    rows, exact, profiled = [], {}, []
    for n, size in enumerate(cfg.sizes):
        with torch.device(device):  # initialised where it runs: a 1.4B model in seconds
            model = build_decoder(size, vocab, cfg.seed)
        if n == 0 and cfg.exact_prompts:
            exact = exactness(
                model, store, vocab, prompts[: cfg.exact_prompts], cfg.beam, cfg.k, device
            ) | {"command": command}
        timed, kernels = _bench_model(model, store, vocab, prompts, cfg, device, gpu, command)
        rows += [{"model": size, **row} for row in timed]
        profiled += [{"model": size, **row} for row in kernels]
    return rows, exact, profiled


COLUMNS = (
    "gpu", "model", "model_params", "prompt_tokens", "batch", "beam", "engine_ms_p50",
    "engine_ms_p99", "engine_rps", "masked_ms_p50", "kernel_speedup", "hf_rps", "speedup",
    "mask_share", "peak_gpu_gb",
)  # fmt: skip


def write_decode_report(
    rows: list[dict], exact: dict, report: Path, gpu: str, exact_model: str
) -> str:
    """Merge into `report` (+ decode_exactness.json), rewrite the Markdown and the plot → the
    Markdown text."""
    merged = merge_rows(report, rows, key=("gpu", "model", "batch"))
    text = "# Constrained beam-search engine vs HF generate\n\n" + markdown_table(merged, COLUMNS)
    fresh = [{"gpu": gpu, "model": exact_model, **exact}] if exact else []
    exact_rows = merge_rows(report.with_name("decode_exactness.json"), fresh, ("gpu", "model"))
    if exact_rows:
        text += "\n## Exactness (float32, engine vs HF reference)\n\n" + markdown_table(
            exact_rows, list(exact_rows[0])
        )
    report.with_suffix(".md").write_text(text)
    plot_decode([r for r in merged if r["gpu"] == gpu], report.with_suffix(".png"))
    return text


def plot_decode(rows: list[dict], path: Path) -> None:
    """Throughput and p50 latency vs batch size, engine vs reference, one line per model."""
    plt = pyplot()

    fig, (ax_rps, ax_ms) = plt.subplots(1, 2, figsize=(10, 3.6))
    for model in sorted({r["model"] for r in rows}):
        sel = sorted((r for r in rows if r["model"] == model), key=lambda r: r["batch"])
        name = f"{model}, beam {sel[0]['beam']}"
        ref = [r for r in sel if "hf_rps" in r]
        batches = [r["batch"] for r in sel]
        ax_rps.plot(batches, [r["engine_rps"] for r in sel], marker="o", label=f"engine {name}")
        ax_ms.plot(batches, [r["engine_ms_p50"] for r in sel], marker="o", label=f"engine {name}")
        if ref:
            hf_batches = [r["batch"] for r in ref]
            ax_rps.plot(
                hf_batches, [r["hf_rps"] for r in ref], marker="x", ls="--", label=f"HF {name}"
            )
            ax_ms.plot(
                hf_batches, [r["hf_ms_p50"] for r in ref], marker="x", ls="--", label=f"HF {name}"
            )
    for ax, label in ((ax_rps, "requests / s"), (ax_ms, "p50 ms per batch call")):
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=label)
        ax.grid(True, which="both", alpha=0.3)
    ax_rps.legend(fontsize=7)
    fig.suptitle(f"constrained beam search on {rows[0]['gpu']}")
    save_figure(fig, path)
