"""`genrec tokenize`: items' semantic IDs and users' SCIDs into a new tokenizer-store version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genrec.cli.common import ARTIFACTS, DataDir, app, command_line, console, print_report
from genrec.pipelines.config import STORE


@app.command()
def tokenize(
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = "synthetic",
    method: Annotated[
        str,
        typer.Option(help="rqvae (learned), bloger (RQ-VAE + recommender in the loop) or rqkmeans"),
    ] = "rqvae",
    signals: Annotated[
        str | None, typer.Option(help="Comma list of text, collab [default: all the dataset has]")
    ] = None,
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    recon_epochs: Annotated[int, typer.Option(help="Phase 1: reconstruction epochs")] = 200,
    align_epochs: Annotated[int, typer.Option(help="Phase 2: + U2I alignment epochs")] = 100,
    u2i_weight: float = 0.1,
    contrastive: Annotated[float, typer.Option(help="HiGR contrastive weight (0 = off)")] = 0.0,
    bloger_steps: Annotated[int, typer.Option(help="BLOGER: bi-level tokenizer updates")] = 400,
    rec_weight: Annotated[float, typer.Option(help="BLOGER: λ of the recommendation loss")] = 1.0,
    meta: Annotated[bool, typer.Option(help="BLOGER: one-step lookahead (meta-gradient)")] = True,
    surgery: Annotated[bool, typer.Option(help="BLOGER: PCGrad on conflicting gradients")] = True,
    seed: int = 0,
    store: Annotated[Path, typer.Option(help="Tokenizer store root")] = STORE,
    artifacts: Annotated[Path, typer.Option(help="SASRec embeddings and caches")] = ARTIFACTS,
    report: Annotated[Path | None, typer.Option(help="Merge a row into this JSON (+ .md)")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Build item semantic IDs and user SCIDs into a new tokenizer-store version."""
    from genrec.bench.tokenizer import tokenizer_row, write_tokenizer_report
    from genrec.data import load_dataset
    from genrec.device import resolve_device
    from genrec.tokenizer.bloger import BlogerConfig
    from genrec.tokenizer.pipeline import TokenizeConfig
    from genrec.tokenizer.pipeline import tokenize as run_tokenize
    from genrec.tokenizer.signals import parse_signals
    from genrec.tokenizer.train import TokenizerTrainConfig

    data = load_dataset(dataset, data_dir)
    chosen = parse_signals(signals or ("text,collab" if data.has_text else "collab"), data)
    cfg = TokenizeConfig(
        method=method,
        signals=chosen,
        train=TokenizerTrainConfig(
            recon_epochs=recon_epochs,
            align_epochs=align_epochs,
            u2i_weight=u2i_weight,
            contrastive_weight=contrastive,
            seed=seed,
        ),
        bloger=BlogerConfig(
            steps=bloger_steps, rec_weight=rec_weight, meta=meta, surgery=surgery, seed=seed
        ),
    )
    torch_device = resolve_device(device)
    built, _ = run_tokenize(data, cfg, artifacts, torch_device, progress)
    path = built.save(store)
    row = tokenizer_row(built, path, torch_device, command_line())
    table = Table(title=f"tokenizer: {dataset} / {method} / {'+'.join(chosen)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in row.items():
        if (
            key not in ("dataset", "method", "signals", "command", "hardware", "store")
            and value != ""
        ):
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"store: {path}")
    if report is not None:
        write_tokenizer_report([row], report)
        print_report(report)
