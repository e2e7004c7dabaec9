"""Popularity and SASRec on any dataset, in the shared leave-one-out harness.

`genrec baselines --dataset beauty --report reports/baselines.json` writes one row per
dataset × model; SASRec also leaves its item/user embeddings for the tokenizer (artifacts.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genrec.atomic import locked
from genrec.baselines.artifacts import save_sasrec
from genrec.baselines.popularity import Popularity
from genrec.baselines.sasrec import SASRecConfig
from genrec.baselines.sasrec_trainer import TrainConfig, train_sasrec
from genrec.bench.report import markdown_table, merge_rows, plot_curves
from genrec.data import DataSource, leave_one_out, load_dataset
from genrec.data.split import MAX_HISTORY
from genrec.device import describe_hardware, reproducible
from genrec.eval import evaluate_scorer

MODELS = ("popularity", "sasrec")
METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")
COLUMNS = ("dataset", "model", *METRICS, "train_seconds", "hardware", "command")


@dataclass(frozen=True)
class BaselineRun:
    models: tuple[str, ...] = MODELS
    sasrec: dict | None = None  # SASRecConfig overrides (d_model, n_layers, ...)
    train: TrainConfig = field(default_factory=TrainConfig)
    artifacts_dir: Path | None = Path(
        "artifacts"
    )  # SASRec embeddings land in <dir>/<dataset>/sasrec
    curves_dir: Path | None = None  # training-curve PNGs
    progress: bool = True
    max_history: int = MAX_HISTORY  # items a model sees; the protocol's 20 unless a reference row

    def label(self, model: str) -> str:
        """The row's model name: other history caps are other rows (`sasrec h50`)."""
        return model if self.max_history == MAX_HISTORY else f"{model} h{self.max_history}"


def run_dataset(
    source: str | DataSource,
    data_dir: Path | None,
    run: BaselineRun,
    device: torch.device,
    command: str,
) -> list[dict]:
    """`source`: a named dataset, a path, or a path with its reading options."""
    dataset = load_dataset(source, data_dir)
    name = dataset.name
    split = leave_one_out(dataset, run.max_history)
    hardware = describe_hardware(device)
    base = {
        "dataset": name,
        "users": dataset.n_users,
        "items": dataset.n_items,
        "hardware": hardware,
        "command": command,
    }
    rows = []
    for model_name in run.models:
        if model_name == "popularity":
            start = time.perf_counter()
            model = Popularity(split.train, split.n_items)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    **base,
                    "model": run.label("popularity"),
                    **evaluate_scorer(model, split.test),
                    "train_seconds": round(seconds, 3),
                }
            )
        elif model_name == "sasrec":
            cfg = SASRecConfig(
                n_items=split.n_items, max_len=split.max_history, **(run.sasrec or {})
            )
            with reproducible(device):  # the same seed, the same weights on the CPU
                result = train_sasrec(split, cfg, run.train, device, progress=run.progress)
            test = evaluate_scorer(result.model, split.test)
            rows.append(
                {
                    **base,
                    "model": run.label("sasrec"),
                    **test,
                    "train_seconds": round(result.train_seconds, 1),
                    "best_epoch": result.best_epoch,
                    "valid_ndcg@10": result.valid["ndcg@10"],
                    "config": {**cfg.__dict__, **run.train.__dict__},
                }
            )
            if run.artifacts_dir is not None and run.max_history == MAX_HISTORY:
                # The tokenizer's collaborative signal comes from the protocol's SASRec only.
                save_sasrec(run.artifacts_dir / name / "sasrec", result.model, dataset, test)
            if run.curves_dir is not None:
                plot_curves(
                    result.history,
                    run.curves_dir / f"{run.label('sasrec').replace(' ', '_')}_{name}.png",
                    f"SASRec on {name} ({hardware})",
                )
        else:
            raise ValueError(f"unknown baseline {model_name!r}")
    return rows


def write_report(rows: list[dict], json_path: Path) -> str:
    """Merge rows into the JSON report, rewrite its Markdown twin; return the Markdown table."""
    header = (
        "# Baselines (leave-one-out, full ranking, history ≤ 20; `hN`: ≤ N, a reference)\n\n"
        f"Generated from `{json_path.name}`; each row names the command and hardware.\n\n"
    )
    with locked(json_path):
        table = markdown_table(merge_rows(json_path, rows, key=("dataset", "model")), COLUMNS)
        json_path.with_suffix(".md").write_text(header + table)
    return table
