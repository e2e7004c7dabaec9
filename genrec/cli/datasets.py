"""`genrec datasets`, `genrec baselines`: the data and the baselines every model is measured
against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    ARTIFACTS,
    DataDir,
    app,
    command_line,
    command_with,
    console,
    print_report,
    print_rows,
)
from genrec.data.source import DataSource
from genrec.errors import GenrecError


@app.command()
def datasets(data_dir: DataDir = None) -> None:
    """List the datasets with their user / item / interaction counts."""
    from genrec.data import SPECS, default_data_dir, load_dataset
    from genrec.data.registry import DATA_DIR_ENV

    root = data_dir or default_data_dir()
    rows, missing = [], []
    for name, spec in SPECS.items():
        if spec.folder is None or (root is not None and (root / spec.folder).is_dir()):
            rows.append(load_dataset(name, root).stats())
        else:
            missing.append(f"{name} ({spec.folder}/: {spec.description})")
    print_rows("datasets", rows, list(rows[0]))
    if missing:
        where = f"under {root}" if root else f"(no data directory: --data-dir or ${DATA_DIR_ENV})"
        console.print(f"[dim]not found {where}: {'; '.join(missing)}[/dim]")


@command_with(DataSource, skip=("dataset",))
def baselines(
    dataset: Annotated[
        list[str],
        typer.Option("--dataset", "-d", help="A named dataset or your files' path; repeatable"),
    ] = ["synthetic"],
    model: Annotated[list[str], typer.Option(help="popularity / sasrec; repeatable")] = [
        "popularity",
        "sasrec",
    ],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    epochs: Annotated[int, typer.Option(help="Most SASRec epochs")] = 200,
    patience: Annotated[int, typer.Option(help="Epochs without a better valid NDCG@10")] = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    d_model: int = 64,
    layers: int = 2,
    heads: int = 2,
    dropout: float = 0.5,
    seed: int = 0,
    max_history: Annotated[
        int, typer.Option(help="Items a model sees (the protocol's 20; e.g. 50 for a reference)")
    ] = 20,
    report: Annotated[Path | None, typer.Option(help="Merge rows into this JSON (+ .md)")] = None,
    artifacts: Annotated[Path, typer.Option(help="Where SASRec embeddings go")] = ARTIFACTS,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
    **options,
) -> None:
    """Train and evaluate Popularity and SASRec (leave-one-out, full ranking); print the metrics.
    The reading options (--items, --columns, ...) apply to every path given with -d."""
    from genrec.baselines.sasrec_trainer import TrainConfig
    from genrec.bench.baselines import COLUMNS, MODELS, BaselineRun, run_dataset, write_report
    from genrec.device import resolve_device

    if max_history < 1:
        raise GenrecError(f"--max-history must be ≥ 1, got {max_history}")
    unknown = sorted(set(model) - set(MODELS))
    if unknown:
        raise GenrecError(f"unknown model {unknown[0]!r}; expected one of {', '.join(MODELS)}")
    run = BaselineRun(
        models=tuple(model),
        sasrec={"d_model": d_model, "n_layers": layers, "n_heads": heads, "dropout": dropout},
        train=TrainConfig(
            epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed
        ),
        artifacts_dir=artifacts,
        curves_dir=report.parent if report else None,
        progress=progress,
        max_history=max_history,
    )
    command = command_line()
    rows = []
    for name in dataset:
        source = DataSource(dataset=name, **options)
        rows += run_dataset(source, data_dir, run, resolve_device(device), command)
    print_rows(
        "baselines (test split)", rows, [c for c in COLUMNS if c not in ("command", "hardware")]
    )
    if report is not None:
        write_report(rows, report)
        print_report(report)
