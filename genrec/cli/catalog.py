"""`genrec catalog add ITEMS_FILE`: new items into the served model without retraining
(`genrec.pipelines.catalog.add_items`); `genrec bench-catalog`: that, measured against
retraining (`genrec.bench.catalog`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    ARTIFACTS,
    DataDir,
    Device,
    ModelRepo,
    Progress,
    Report,
    app,
    command_line,
    console,
    print_report,
    print_rows,
)
from genrec.pipelines.config import STORE

catalog_app = typer.Typer(help="Change the served catalogue.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("add")
def add(
    items_file: Annotated[
        Path,
        typer.Argument(
            help="Items table of new ids (item_id, title, brand, categories, description, "
            "price; .csv .tsv .jsonl .parquet or NAME.item)",
            show_default=False,
        ),
    ],
    embeddings: Annotated[
        Path | None,
        typer.Option(help="A .npy of one collaborative vector per new item (stores without text)"),
    ] = None,
    model_repo: ModelRepo = Path("model_repo"),
    store: Annotated[Path, typer.Option(help="Tokenizer store root")] = STORE,
    artifacts: Annotated[Path, typer.Option(help="SASRec and the text embeddings")] = ARTIFACTS,
    checkpoints: Annotated[Path, typer.Option(help="Where the grown checkpoint goes")] = Path(
        "checkpoints"
    ),
    data_dir: DataDir = None,
    device: Device = "auto",
    progress: Progress = True,
) -> None:
    """Give new items semantic IDs through the trained tokenizer and serve them: a new
    tokenizer-store version, a checkpoint with dense-head rows for them, and the next model
    version, which a running stack picks up without a restart."""
    from genrec.pipelines.catalog import add_items

    outcome = add_items(
        items_file, model_repo, "genrec", store, artifacts, checkpoints, embeddings, data_dir,
        device, progress,
    )  # fmt: skip
    console.print(f"added {len(outcome.added)} items; store {outcome.store}")
    for item, sid in list(zip(outcome.added, outcome.sids.tolist(), strict=True))[:5]:
        console.print(f"  {item}: SID {sid}")
    console.print(f"model version: {outcome.version}")


@app.command("bench-catalog")
def bench_catalog(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="A named dataset")] = "beauty",
    part: Annotated[
        str,
        typer.Option(
            help="texts (item-text embeddings for both sides), added, retrained (each trains), "
            "eval (both, then the rows)"
        ),
    ] = "eval",
    side: Annotated[
        str | None,
        typer.Option(help="eval: score this side alone (added, retrained; the other row stays)"),
    ] = None,
    held_out: Annotated[float, typer.Option(help="Share of the items held out")] = 0.05,
    seed: int = 0,
    sasrec_epochs: Annotated[int, typer.Option(help="Most SASRec epochs")] = 200,
    eval_users: Annotated[int, typer.Option(help="Test users scored (0: all)")] = 0,
    size: Annotated[str | None, typer.Option(help="Decoder size [default: the recipe's]")] = None,
    epochs: Annotated[int | None, typer.Option(help="[default: the recipe's]")] = None,
    work: Annotated[Path, typer.Option(help="Both sides' runs")] = Path("build/bench_catalog"),
    report: Report = Path("reports/byo_data.json"),
    device: Device = "auto",
    progress: Progress = True,
) -> None:
    """New items added by `genrec catalog add` against the same items in a model retrained
    from scratch: hold out a share of the items, train without them, add them; train on
    everything; score both on the users whose next item is a held-out one."""
    from genrec.bench.byo_data import NEW_ITEM_COLUMNS, write_report
    from genrec.bench.catalog import PARTS, SIDES, CatalogBench, prepare_texts, run_eval, run_part
    from genrec.device import describe_hardware, resolve_device
    from genrec.errors import GenrecError

    if part not in PARTS:
        raise GenrecError(f"unknown --part {part!r}; expected one of {', '.join(PARTS)}")
    if side is not None and side not in SIDES:
        raise GenrecError(f"unknown --side {side!r}; expected one of {', '.join(SIDES)}")
    recipe = tuple((k, v) for k, v in (("size", size), ("epochs", epochs)) if v is not None)
    bench = CatalogBench(dataset, held_out, seed, sasrec_epochs, device, eval_users, recipe)
    if part == "texts":
        prepare_texts(bench, work, progress)
        return
    if part != "eval":
        console.print(f"{part}: {run_part(part, bench, work, progress, command_line())[0]}")
        return
    hardware = describe_hardware(resolve_device(device))
    rows = run_eval(bench, work, command_line(), hardware, (side,) if side else SIDES)
    print_rows("new items", rows, list(NEW_ITEM_COLUMNS))
    write_report(rows, report)
    print_report(report)
