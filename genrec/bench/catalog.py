"""`genrec bench-catalog`: new items added without retraining, against the same items in a model
retrained from scratch.

A share of the dataset's items (5 % by default, drawn with the seed) is held out: the "old"
dataset has neither them nor any interaction with them, as if they came after training. Each
side runs the whole quick start (`genrec.pipelines.quickstart.run_all`: SASRec, tokenizer,
default-recipe decoder, export) from CSV tables, the way a user's files are read:
- **added:** trained on the old dataset, then `genrec catalog add` gives the held-out items
  semantic IDs (an existing item's path with a collision token copying its), decoder and
  dense-head rows, and serves them as version 2;
- **retrained:** trained on the whole dataset, the held-out items included.

Both are scored on the whole dataset's test split through the served model (`ServedModel`,
beam and dtype as served): Recall@10 and NDCG@10 on the users whose next item is a held-out
one, on all users, and how often held-out items reach a top-10 page. The two parts train
independently (`--part added`, `--part retrained`, then `--part eval`), so they can run side
by side on one GPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec.data import Dataset, DataSource, User, leave_one_out, load_dataset
from genrec.data.tables import write_tables
from genrec.pipelines.catalog import DENSE_TEMPERATURE, add_items
from genrec.pipelines.config import RunConfig
from genrec.pipelines.quickstart import QuickstartPaths, run_all
from genrec.pipelines.tokenize import TokenizeRun
from genrec.tokenizer.extend import NEIGHBOURS, TEMPERATURE

SIDES = ("added", "retrained")  # the two models compared
PARTS = ("texts", *SIDES, "eval")


@dataclass(frozen=True)
class CatalogBench:
    dataset: str = "beauty"
    held_out: float = 0.05
    seed: int = 0
    sasrec_epochs: int = 200
    device: str = "auto"
    eval_users: int = 0  # 0: every test user; else a seeded sample (CPU smoke runs)
    recipe: tuple[tuple[str, object], ...] = ()  # option overrides of the default recipe


def held_out_items(dataset: Dataset, share: float, seed: int) -> np.ndarray:
    """Item indices held out, sorted: `share` of the catalogue, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    n = max(1, round(share * dataset.n_items))
    return np.sort(rng.choice(dataset.n_items, n, replace=False))


def without(dataset: Dataset, held: np.ndarray) -> Dataset:
    """`dataset` as if the `held` items never existed: gone from the catalogue and from every
    sequence (users left with nothing are dropped)."""
    keep = np.ones(dataset.n_items, bool)
    keep[held] = False
    index = np.cumsum(keep) - 1
    users = []
    for u in dataset.users:
        mask = keep[u.items]
        if mask.any():
            users.append(
                User(
                    u.id, index[u.items[mask]],
                    None if u.ratings is None else u.ratings[mask],
                    None if u.timestamps is None else u.timestamps[mask],
                )
            )  # fmt: skip
    items = [item for item, k in zip(dataset.items, keep, strict=True) if k]
    return Dataset(f"{dataset.name}-old", items, users, dataset.source).validate()


def seed_work(work: Path, seed: int) -> Path:
    """One seed's runs and tables: seeds hold out different items, so nothing is shared."""
    return work / f"seed{seed}"


def _paths(work: Path, part: str, progress: bool) -> QuickstartPaths:
    root = work / part
    return QuickstartPaths(
        out=root / "run", artifacts=root / "artifacts", store=root / "tokenizer_store",
        model_repo=root / "model_repo", progress=progress,
    )  # fmt: skip


def prepare_texts(bench: CatalogBench, work: Path, progress: bool) -> None:
    """Both sides' item-text embeddings into their artifacts caches, where the tokenizer and
    `catalog add` look first: on a machine with the text encoder, before the GPU runs."""
    from genrec.device import resolve_device
    from genrec.tokenizer.text import embed_texts, item_text

    full = load_dataset(bench.dataset)
    held = held_out_items(full, bench.held_out, bench.seed)
    device, work = resolve_device(bench.device), seed_work(work, bench.seed)
    lists = {
        "added": [without(full, held).items, [full.items[i] for i in held]],
        "retrained": [full.items],
    }
    for part, item_lists in lists.items():
        cache = _paths(work, part, progress).artifacts / "cache" / "text"
        for items in item_lists:
            embed_texts([item_text(i) for i in items], cache, device, progress)


def run_part(
    part: str, bench: CatalogBench, work: Path, progress: bool, command: str
) -> tuple[Path, dict]:
    """One side's training (and, for `added`, the catalogue addition) → its served version and
    the whole configuration it was built with."""
    full = load_dataset(bench.dataset)
    held = held_out_items(full, bench.held_out, bench.seed)
    work = seed_work(work, bench.seed)
    paths = _paths(work, part, progress)
    if part == "added":
        data, tables = without(full, held), work / "tables" / "old"
    else:
        data, tables = full, work / "tables" / "full"
    inter, items = write_tables(data, tables)
    source = DataSource(dataset=str(inter), items=str(items), k_core=0)
    run = RunConfig.from_options(device=bench.device, seed=bench.seed, **dict(bench.recipe))
    run = dataclasses.replace(run, data=source)
    done = run_all(run, paths, bench.sasrec_epochs, command=command)
    version = Path(done.stages["export"]["version"])
    config = {"bench": dataclasses.asdict(bench), "run": run.identity(),
              "tokenizer": dataclasses.asdict(TokenizeRun())}  # fmt: skip
    config["run"]["tokenizer"]["store"] = done.stages["tokenizer"]["store"]  # resolved
    if part == "added":
        record = paths.out / "added.json"
        if not record.is_file():
            only = Dataset(full.name, [full.items[i] for i in held], [])
            _, new = write_tables(only, work / "tables" / "held_out")  # its items table
            outcome = add_items(
                new, paths.model_repo, store_root=paths.store, artifacts=paths.artifacts,
                checkpoints=paths.out / "checkpoints", device=bench.device, progress=progress,
            )  # fmt: skip
            added = {
                "neighbours": NEIGHBOURS, "temperature": TEMPERATURE,
                "dense_temperature": DENSE_TEMPERATURE,
                "collision_copies": len(outcome.copies),
            }  # fmt: skip
            record.write_text(json.dumps({"version": str(outcome.version), "catalog_add": added}))
        recorded = json.loads(record.read_text())
        version, config["catalog_add"] = Path(recorded["version"]), recorded["catalog_add"]
    return version, config


def evaluate(version: Path, full: Dataset, held: np.ndarray, bench: CatalogBench) -> dict:
    """The served model of `version` on `full`'s test split: metrics on the users whose target
    is held out, on all, and the held-out items' share of top-10 pages."""
    from genrec.engine.engine import EngineConfig
    from genrec.serving import DecodeRequest, ServedModel

    served = ServedModel.load(version, bench.device, EngineConfig.served(RunConfig().engine.beam))
    index = {item: n for n, item in enumerate(served.store.item_ids)}
    to_model = np.array([index[item.id] for item in full.items])  # full index → model index
    held_model = set(to_model[held].tolist())
    test = leave_one_out(full).test
    rows = np.arange(len(test))
    if bench.eval_users:
        rows = np.random.default_rng(bench.seed).permutation(rows)[: bench.eval_users]
    hits, ndcg, cold_hits, cold_ndcg, with_held, held_slots = [], [], [], [], 0, 0
    for start in range(0, len(rows), 256):
        batch = rows[start : start + 256]
        requests = []
        for r in batch:
            user = full.users[test.users[r]]
            scid = served.store.user_scid(user.id)[0] if served.decoder.prompt.user_scid else None
            requests.append(
                DecodeRequest(to_model[test.histories[r]], np.zeros(0, np.int64), 10, scid)
            )
        results, _ = served.recommend(requests)
        for r, result in zip(batch, results, strict=True):
            top = result.items.tolist()
            target = int(to_model[test.targets[r]])
            rank = top.index(target) + 1 if target in top else 0
            gain = 1 / math.log2(rank + 1) if rank else 0.0
            hits.append(bool(rank))
            ndcg.append(gain)
            if target in held_model:
                cold_hits.append(bool(rank))
                cold_ndcg.append(gain)
            shown = sum(i in held_model for i in top)
            with_held += shown > 0
            held_slots += shown
    n = len(rows)
    return {
        "users": n,
        "held_out_target_users": len(cold_hits),
        "recall@10_held_out_targets": float(np.mean(cold_hits)) if cold_hits else 0.0,
        "ndcg@10_held_out_targets": float(np.mean(cold_ndcg)) if cold_ndcg else 0.0,
        "recall@10_all": float(np.mean(hits)),
        "ndcg@10_all": float(np.mean(ndcg)),
        "pages_with_held_out": with_held / n,
        "held_out_slot_share": held_slots / (10 * n),
    }


def run_eval(
    bench: CatalogBench, work: Path, command: str, hardware: str, sides: tuple[str, ...] = SIDES
) -> list[dict]:
    """The rows of `sides` (each trained first where its run is missing)."""
    full = load_dataset(bench.dataset)
    held = held_out_items(full, bench.held_out, bench.seed)
    target_share = float(np.isin(leave_one_out(full).test.targets, held).mean())
    rows = []
    for part in sides:
        version, config = run_part(part, bench, work, progress=False, command=command)
        rows.append(
            {
                "check": "new items", "named": f"{bench.dataset} {part}", "side": part,
                "dataset": bench.dataset, "held_out_items": len(held),
                "held_out_share": bench.held_out, "held_out_target_share": target_share,
                **evaluate(version, full, held, bench), "seed": bench.seed,
                "version": str(version), "hardware": hardware, "command": command,
                "config": config,
            }
        )  # fmt: skip
    return rows
