"""`genrec sweep`, `genrec bench-recipe`: experiment files run side by side, and the recipe report
built from their runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genrec.cli.common import app, command_line, console, print_report
from genrec.errors import GenrecError


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML; see genrec.sweep)")],
    runs: Annotated[
        Path | None, typer.Option(help="Run folders and logs [default: build/sweep/<file stem>]")
    ] = None,
    parallel: Annotated[int, typer.Option(help="Runs side by side")] = 1,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes of training per train run")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Run a grid of `genrec train` variants x datasets x seeds (and their SASRec baselines)
    side by side; finished runs are skipped, cut-off ones resumed."""
    from genrec.sweep import plan, run_sweep

    if parallel < 1:
        raise GenrecError(f"--parallel must be ≥ 1, got {parallel}")
    folder = runs or Path("build/sweep") / file.stem
    outcomes = run_sweep(plan(file, folder, time_budget), folder, parallel, progress)
    table = Table(title=f"sweep {file} → {folder}")
    for column in ("run", "status", "exit", "seconds"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for o in outcomes:
        table.add_row(o.job.name, o.status, str(o.code), f"{o.seconds:.0f}")
    console.print(table)
    if failed := [o.job.name for o in outcomes if o.code != 0]:
        console.print(f"{len(failed)} failed; logs in {folder / 'logs'}")
        raise typer.Exit(1)


@app.command("bench-recipe")
def bench_recipe(
    runs: Annotated[
        Path,
        typer.Argument(
            help="Folder of run records: <dataset>-<variant>-s<seed>/genrec.json per decoder "
            "run and sasrec-<dataset>-s<seed>.json (`genrec baselines --report`) per SASRec run"
        ),
    ] = Path("reports/recipe_runs"),
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/recipe.json"
    ),
) -> None:
    """Aggregate decoder runs over seeds against the same-run SASRec into reports/recipe.*."""
    from genrec.bench.recipe import decoder_runs, recipe_rows, sasrec_runs, write_recipe_report

    if not runs.is_dir():
        raise GenrecError(f"{runs}: no such folder of run records")
    decoders = decoder_runs([p.parent for p in runs.glob("*/genrec.json")])
    rows = recipe_rows(decoders, sasrec_runs(list(runs.glob("sasrec-*.json"))), command_line())
    write_recipe_report(rows, report)
    print_report(report)
