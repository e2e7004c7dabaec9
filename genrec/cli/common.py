"""What every command module shares: the Typer app they register on, the console, the
option types several commands take, and how rows print."""

from __future__ import annotations

import dataclasses
import inspect
import shlex
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Generative recommendation over semantic IDs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped or logged output gets room for whole column names (rich assumes 80 off a terminal).
console = Console(width=None if sys.stdout.isatty() else 150)
ARTIFACTS = Path("artifacts")


def _version(show: bool) -> None:
    if show:
        from genrec import __version__

        console.print(f"genrec {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")
    ] = False,
) -> None:
    """Generative recommendation over semantic IDs."""


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder holding the public datasets [env: GENREC_DATA_DIR; "
        "default: ../shared/data when present]"
    ),
]
ModelRepo = Annotated[Path, typer.Option(help="Triton model repository")]
Report = Annotated[Path, typer.Option(help="JSON report (+ .md)")]
StackDir = Annotated[Path, typer.Option(help="Logs and Redis data")]  # a local stack's folder
Gpu = Annotated[bool, typer.Option(help="Triton's GPU configuration (config.pbtxt)")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, ...")]
Progress = Annotated[bool, typer.Option(help="Show progress bars")]


def command_with(
    *kinds: type,
    name: str | None = None,
    on: typer.Typer | None = None,
    skip: tuple[str, ...] = (),
) -> Callable[[Callable], Callable]:
    """Registers a command (on `app`, or the command group `on`) whose options are its own
    parameters plus one per field of the dataclasses `kinds` but those in `skip`
    (`genrec.options.option` fields: their names, types, defaults and help), passed to it as
    `**options`, so a run option is declared once, in its config."""

    def register(func: Callable) -> Callable:
        own = [
            p for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.kind != p.VAR_KEYWORD
        ]  # fmt: skip
        fields = []
        for kind in kinds:
            types = typing.get_type_hints(kind)
            for f in dataclasses.fields(kind):
                if f.name in skip:
                    continue
                text = escape(f.metadata.get("help", "")) or None  # "[default: ...]" is text
                flag = typer.Option(*SHORT.get(f.name, ()), help=text)
                fields.append(
                    inspect.Parameter(
                        f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                        annotation=Annotated[types[f.name], flag],
                    )
                )  # fmt: skip
        func.__signature__ = inspect.Signature([*own, *fields])  # type: ignore[attr-defined]
        return (on or app).command(name)(func)

    return register


SHORT = {"dataset": ("--dataset", "-d")}  # run options that also have a short name


def command_line() -> str:
    """The command line as typed, for the `command` column of every report row."""
    return "genrec " + shlex.join(sys.argv[1:])


def print_rows(title: str, rows: list[dict], columns: list[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in ("dataset", "model") else "right")
    for row in rows:
        table.add_row(
            *(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns)
        )
    console.print(table)


def print_report(report: Path | None) -> None:
    if report is not None:
        console.print(f"report: {report} and {report.with_suffix('.md')}")


def exported(model_repo: Path, data_dir: Path | None):
    """The latest exported version of the model, its export.json and its dataset: what the
    serving commands start the stack with."""
    from genrec.data import load_recorded
    from genrec.local_stack import latest_export

    version, info = latest_export(model_repo)
    return version, info, load_recorded(info, data_dir)
