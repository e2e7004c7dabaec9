"""`genrec run PATH_OR_NAME`: baselines → tokenizer → decoder (the default recipe) → export, one
stage after another, resumable, with a final table beside SASRec's
(`genrec.pipelines.quickstart.run_all`). Its options are the data's and the recipe's: the same
fields `genrec train` takes, but the tokenizer store, which the run builds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    ARTIFACTS,
    DataDir,
    ModelRepo,
    Progress,
    command_line,
    command_with,
    console,
    print_rows,
)  # fmt: skip
from genrec.cli.data import PATH_HELP
from genrec.data.source import DataSource
from genrec.pipelines.config import STORE, DecodeConfig, ModelConfig, TrainingConfig
from genrec.pipelines.quickstart import METRICS, STAGES, QuickstartPaths, run_all


@command_with(DataSource, ModelConfig, TrainingConfig, DecodeConfig, name="run", skip=("dataset",))
def run_command(
    dataset: Annotated[str, typer.Argument(help=PATH_HELP, show_default=False)],
    out: Annotated[
        Path | None, typer.Option(help="The run's folder [default: runs/DATASET]")
    ] = None,
    sasrec_epochs: Annotated[
        int, typer.Option(help="Most SASRec epochs (baseline, teacher)")
    ] = 200,
    tokenizer: Annotated[
        str, typer.Option(help="Semantic IDs: rqvae (learned), bloger or rqkmeans (fastest)")
    ] = "rqvae",
    data_dir: DataDir = None,
    artifacts: Annotated[Path, typer.Option(help="SASRec and the text embeddings")] = ARTIFACTS,
    store: Annotated[Path, typer.Option(help="Tokenizer store root")] = STORE,
    model_repo: ModelRepo = Path("model_repo"),
    progress: Progress = True,
    **options,
) -> None:
    """From a dataset to a model `genrec serve` serves: Popularity and SASRec, semantic IDs
    (text + collaborative where items have text, collaborative otherwise), the decoder with
    the default recipe, its export to --model-repo; then its test figures beside SASRec's.
    Run it again to resume: the stages already done are skipped."""
    from genrec.pipelines.config import RunConfig
    from genrec.pipelines.tokenize import TokenizeRun

    run = RunConfig.from_options(dataset=dataset, **options)
    paths = QuickstartPaths(out, artifacts, store, model_repo, data_dir, progress)

    def announce(n: int, stage: str) -> None:
        console.rule(f"stage {n}/{len(STAGES)}: {stage}")

    method = TokenizeRun(method=tokenizer, seed=run.train.seed, device=run.train.device)
    outcome = run_all(run, paths, sasrec_epochs, method, command_line(), announce)
    skipped = [s for s in STAGES if s not in outcome.ran]
    if skipped:
        console.print(f"[dim]done before: {', '.join(skipped)}[/dim]")
    print_rows(f"{outcome.rows[0]['dataset']}: test split", outcome.rows, ["model", *METRICS])
    console.print(f"served by `genrec serve`: {outcome.stages['export']['version']}")
