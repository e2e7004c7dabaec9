"""`genrec catalog add ITEMS_FILE`: new items into the served model without retraining
(`genrec.pipelines.catalog.add_items`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import ARTIFACTS, DataDir, Device, ModelRepo, Progress, app, console
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
