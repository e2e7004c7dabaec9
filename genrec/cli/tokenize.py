"""`genrec tokenize`: items' semantic IDs and users' SCIDs into a new tokenizer-store version
(`genrec.pipelines.tokenize.run_tokenize`; its options are `DataSource`'s and `TokenizeRun`'s
fields)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genrec.cli.common import ARTIFACTS, DataDir, command_line, command_with, console, print_report
from genrec.data.source import DataSource
from genrec.pipelines.config import STORE
from genrec.pipelines.tokenize import TokenizeRun, run_tokenize


@command_with(DataSource, TokenizeRun)
def tokenize(
    data_dir: DataDir = None,
    store: Annotated[Path, typer.Option(help="Tokenizer store root")] = STORE,
    artifacts: Annotated[Path, typer.Option(help="SASRec embeddings and caches")] = ARTIFACTS,
    report: Annotated[Path | None, typer.Option(help="Merge a row into this JSON (+ .md)")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
    **options,
) -> None:
    """Build item semantic IDs and user SCIDs into a new tokenizer-store version."""
    from genrec.bench.tokenizer import tokenizer_row, write_tokenizer_report

    source = DataSource(**{f.name: options.pop(f.name) for f in dataclasses.fields(DataSource)})
    run = TokenizeRun(**options)
    outcome = run_tokenize(source, run, store, artifacts, data_dir, progress)
    row = tokenizer_row(outcome.store, outcome.path, outcome.device, command_line())
    name = outcome.store.manifest["dataset"]
    table = Table(title=f"tokenizer: {name} / {run.method} / {'+'.join(outcome.signals)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    hidden = ("dataset", "method", "signals", "command", "hardware", "store")
    for key, value in row.items():
        if key not in hidden and value != "":
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"store: {outcome.path}")
    if report is not None:
        write_tokenizer_report([row], report)
        print_report(report)
