"""`genrec bench-data`: a user's own files give what the named loaders give, and how fast they
are read.

- **Equivalence:** MovieLens-100k read as atomic files from its folder (`--k-core 0`: nothing
  filtered, as the named loader reads it), and Beauty written out as plain CSV tables
  (`genrec.data.tables.write_tables`) and read back with the default 5-core filter, against
  their named loaders: the same counts, the same leave-one-out split (every training
  sequence, history and target) and the same SASRec test metrics from the same seed
  (`identical` only when all three hold).
- **Parse time:** the first read of a table (parse, prepare, write the cache) and a cache hit,
  for Beauty and for the ten-times-larger synthetic catalogue, on this machine.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genrec.atomic import locked
from genrec.baselines.sasrec import SASRecConfig
from genrec.baselines.sasrec_trainer import TrainConfig, train_sasrec
from genrec.bench.report import markdown_table, mean_std, merge_rows
from genrec.data import Dataset, DataSource, Split, leave_one_out, load_dataset
from genrec.data.cache import using_cache
from genrec.data.tables import write_tables
from genrec.device import describe_hardware, reproducible
from genrec.eval import evaluate_scorer

EQUIVALENCE_COLUMNS = (
    "check", "named", "read_as", "users", "items", "interactions", "same_counts", "same_split",
    "sasrec_recall@10", "sasrec_recall@10_named", "same_sasrec", "identical",
)  # fmt: skip
PARSE_COLUMNS = (
    "check", "named", "read_as", "interactions", "file_mb", "first_read_s", "cache_hit_s",
)  # fmt: skip
# The new-items figures averaged over seeds (the seeds hold out different items).
NEW_ITEM_SPREAD = (
    "recall@10_held_out_targets", "ndcg@10_held_out_targets", "recall@10_all",
    "pages_with_held_out",
)  # fmt: skip
NEW_ITEM_COLUMNS = (
    "side",
    "dataset",
    "held_out_items",
    "users",
    "held_out_target_users",
    "recall@10_held_out_targets",
    "ndcg@10_held_out_targets",
    "recall@10_all",
    "pages_with_held_out",
    "held_out_slot_share",
    "seed",
    "hardware",
)  # fmt: skip (genrec bench-catalog's rows, in the same report)


@dataclass(frozen=True)
class DataBench:
    sasrec_epochs: int = 3  # capped: the check is sameness, not a tuned SASRec
    seed: int = 0


def _same_split(a: Split, b: Split) -> bool:
    def same_eval(x, y) -> bool:
        return (
            np.array_equal(x.users, y.users)
            and np.array_equal(x.targets, y.targets)
            and all(np.array_equal(p, q) for p, q in zip(x.histories, y.histories, strict=True))
        )

    return (
        len(a.train) == len(b.train)
        and all(np.array_equal(p, q) for p, q in zip(a.train, b.train, strict=True))
        and same_eval(a.valid, b.valid)
        and same_eval(a.test, b.test)
    )


def _sasrec(split: Split, bench: DataBench, device: torch.device) -> dict[str, float]:
    cfg = SASRecConfig(n_items=split.n_items, max_len=split.max_history)
    train = TrainConfig(epochs=bench.sasrec_epochs, patience=bench.sasrec_epochs, seed=bench.seed)
    with reproducible(device):
        result = train_sasrec(split, cfg, train, device, progress=False)
    return evaluate_scorer(result.model, split.test)


def equivalence(
    named: Dataset, read: Dataset, read_as: str, bench: DataBench, device: torch.device
) -> dict:
    """One row: whether `read` (from a user's files) equals the named loader's `named`."""
    counts = ("n_users", "n_items", "n_interactions")
    same_counts = all(getattr(named, c) == getattr(read, c) for c in counts)
    split_named, split_read = leave_one_out(named), leave_one_out(read)
    same_split = same_counts and _same_split(split_named, split_read)
    metrics_named = _sasrec(split_named, bench, device)
    metrics_read = _sasrec(split_read, bench, device) if same_split else {}
    same_sasrec = metrics_named == metrics_read
    return {
        "check": "equivalence", "named": named.name, "read_as": read_as,
        "users": read.n_users, "items": read.n_items, "interactions": read.n_interactions,
        "same_counts": same_counts, "same_split": same_split,
        "sasrec_recall@10": metrics_read.get("recall@10", ""),
        "sasrec_recall@10_named": metrics_named["recall@10"],
        "sasrec_ndcg@10": metrics_read.get("ndcg@10", ""),
        "sasrec_ndcg@10_named": metrics_named["ndcg@10"],
        "same_sasrec": same_sasrec, "identical": same_counts and same_split and same_sasrec,
        "sasrec_epochs": bench.sasrec_epochs,
    }  # fmt: skip


HIT_READS = 5  # cache hits timed; the row has their median


def parse_times(named: str, tables: tuple[Path, Path]) -> dict:
    """The first read of the tables (into an empty cache) and a cache hit (the median of
    `HIT_READS`), in seconds."""
    inter, items = tables
    source = DataSource(dataset=str(inter), items=str(items))
    with tempfile.TemporaryDirectory() as empty, using_cache(Path(empty)):
        start = time.perf_counter()
        dataset, _ = source.prepared()
        first = time.perf_counter() - start
        hits = []
        for _ in range(HIT_READS):
            start = time.perf_counter()
            source.prepared()
            hits.append(time.perf_counter() - start)
        hit = float(np.median(hits))
    return {
        "check": "parse time", "named": named, "read_as": f"{inter.name} + {items.name}",
        "interactions": dataset.n_interactions,
        "file_mb": round((inter.stat().st_size + items.stat().st_size) / 1e6, 1),
        "first_read_s": round(first, 3), "cache_hit_s": round(hit, 3),
    }  # fmt: skip


def run_bench(
    data_dir: Path | None, bench: DataBench, device: torch.device, command: str, work: Path
) -> list[dict]:
    """Every row above; `work` holds the tables written for the checks."""
    root = data_dir or _data_dir()
    movielens = load_dataset("ml-100k", root)
    beauty = load_dataset("beauty", root)
    beauty_tables = write_tables(beauty, work / "beauty")
    rows = [
        equivalence(
            movielens,
            load_dataset(DataSource(dataset=str(root / "movielens-100k"), k_core=0)),
            "atomic files (movielens-100k/ml-100k.inter + .item), --k-core 0",
            bench, device,
        ),
        equivalence(
            beauty,
            load_dataset(DataSource(dataset=str(beauty_tables[0]), items=str(beauty_tables[1]))),
            "plain tables (interactions.csv + items.csv), default 5-core",
            bench, device,
        ),
        parse_times("beauty", beauty_tables),
        parse_times("synthetic-x10", write_tables(load_dataset("synthetic-x10"), work / "x10")),
    ]  # fmt: skip
    hardware = describe_hardware(device)
    return [r | {"hardware": hardware, "command": command} for r in rows]


def _data_dir() -> Path:
    from genrec.data import default_data_dir
    from genrec.errors import DataError

    root = default_data_dir()
    if root is None:
        raise DataError("bench-data reads ml-100k and beauty: pass --data-dir")
    return root


def seed_summary(rows: list[dict]) -> list[dict]:
    """One row per side: each figure of `NEW_ITEM_SPREAD` as "mean ± std" over its seeds."""
    summary = []
    for side in dict.fromkeys(r["side"] for r in rows):
        runs = [r for r in rows if r["side"] == side]
        row = {"side": side, "seeds": ", ".join(str(r["seed"]) for r in runs)}
        for column in NEW_ITEM_SPREAD:
            mean, std = mean_std([r[column] for r in runs])
            row[column] = f"{mean:.4f} ± {std:.4f}"
        summary.append(row)
    return summary


def write_report(rows: list[dict], path: Path) -> None:
    """Merge `rows` into `path` (JSON); its Markdown shows the two checks as two tables."""
    header = (
        "# Your own data: the same as the named loaders, and read once\n\n"
        f"Generated from `{path.name}`; each row names the command and hardware. "
        "`identical`: same counts, same leave-one-out split, same SASRec test metrics "
        "(same seed, epochs capped).\n\n"
    )
    with locked(path):
        merged = merge_rows(path, rows, ("check", "named", "seed"))
        text = header + markdown_table(
            [r for r in merged if r["check"] == "equivalence"], EQUIVALENCE_COLUMNS
        )
        text += "\n## Parse time (first read into an empty cache; cache hit: median of 5 reads)\n\n"
        text += markdown_table(
            [r for r in merged if r["check"] == "parse time"], (*PARSE_COLUMNS, "hardware")
        )
        if new := [r for r in merged if r["check"] == "new items"]:
            text += (
                "\n## New items: added without retraining vs retrained from scratch "
                "(`genrec bench-catalog`)\n\n"
            )
            text += markdown_table(new, NEW_ITEM_COLUMNS)
            text += "\n### Mean ± std over the seeds above\n\n"
            text += markdown_table(seed_summary(new), ("side", "seeds", *NEW_ITEM_SPREAD))
        path.with_suffix(".md").write_text(text)
