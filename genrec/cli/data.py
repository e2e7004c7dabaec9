"""`genrec data inspect`: a dataset's figures before anything is trained on it
(`genrec.data.inspect`); `genrec bench-data`: your own files read as the named loaders read
theirs (`genrec.bench.byo_data`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genrec.cli.common import (
    DataDir,
    Device,
    Report,
    app,
    command_line,
    command_with,
    console,
    print_report,
    print_rows,
)
from genrec.data.source import DataSource

data_app = typer.Typer(
    help="Read and check a dataset: a named one or your own files.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
PATH_HELP = dataclasses.fields(DataSource)[0].metadata["help"]


@command_with(DataSource, name="inspect", on=data_app, skip=("dataset",))
def inspect(
    path: Annotated[str, typer.Argument(help=PATH_HELP, show_default=False)],
    data_dir: DataDir = None,
    **options,
) -> None:
    """Counts, sequence lengths, text coverage and what the k-core filter drops, of a named
    dataset or your own files (parsed once into the cache, so later commands start fast)."""
    from genrec.data.inspect import inspect as inspect_dataset

    row = inspect_dataset(DataSource(dataset=path, **options), data_dir)
    table = Table(title=f"dataset {row['dataset']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in row.items():
        plain = isinstance(value, bool) or not isinstance(value, int)
        table.add_row(key, str(value) if plain else f"{value:,}")
    console.print(table)


@app.command("bench-data")
def bench_data(
    data_dir: DataDir = None,
    report: Report = Path("reports/byo_data.json"),
    work: Annotated[Path, typer.Option(help="Where the tables written for the checks go")] = Path(
        "build/byo_data"
    ),
    sasrec_epochs: Annotated[int, typer.Option(help="SASRec epochs of the sameness check")] = 3,
    device: Device = "cpu",
) -> None:
    """Your own files against the named loaders (ml-100k as atomic files, Beauty as CSV
    tables): the same counts, split and SASRec metrics; and how long a first read and a cache
    hit take."""
    from genrec.bench.byo_data import (
        EQUIVALENCE_COLUMNS,
        PARSE_COLUMNS,
        DataBench,
        run_bench,
        write_report,
    )
    from genrec.device import resolve_device

    rows = run_bench(
        data_dir, DataBench(sasrec_epochs), resolve_device(device), command_line(), work
    )
    for check, columns in (("equivalence", EQUIVALENCE_COLUMNS), ("parse time", PARSE_COLUMNS)):
        print_rows(check, [r for r in rows if r["check"] == check], columns[1:])
    write_report(rows, report)
    print_report(report)
