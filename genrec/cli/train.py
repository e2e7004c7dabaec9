"""`genrec train`: one decoder run (`genrec.pipelines.train.run_train`). Its run options are
generated from the fields of `RunConfig`'s sub-configs, which own their names, types, defaults
(the default recipe) and help; `--config FILE.toml` reads them from a run file, and options
typed here override it. The options declared here are where the run's outputs go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    ARTIFACTS,
    DataDir,
    Progress,
    command_line,
    command_with,
    console,
    print_report,
    print_rows,
)  # fmt: skip
from genrec.pipelines.config import RunConfig
from genrec.pipelines.train import TrainOutputs, run_train


@command_with(*RunConfig.sections().values())
def train(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A run file: TOML tables \\[data] \\[tokenizer] \\[model] \\[train] \\[engine] of "
            "these options; options typed here win"
        ),
    ] = None,
    data_dir: DataDir = None,
    artifacts: Annotated[
        Path, typer.Option(help="Where the SASRec teacher is, or is trained into")
    ] = ARTIFACTS,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run of the same --out from its state")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Merge the test row into this JSON (+ .md, + PNG)")
    ] = None,
    hallucination_users: Annotated[
        int, typer.Option(help="Test users for the unconstrained-decode hallucination rate")
    ] = 500,
    progress: Progress = True,
    **options,
) -> None:
    """Train the decoder; with no options, the default recipe (reports/README.md, "Decoder"): a 5m
    decoder with a dense head (its top 20 items join the beam), distilled from the protocol
    SASRec at weight 0.5 (trained into --artifacts when absent), dropout 0.2, weight decay 0.1,
    a 10-epoch cosine schedule, beam 50. Under `torchrun --nproc_per_node N -m genrec train`
    data-parallel. Prints test metrics of constrained decoding and writes a checkpoint."""
    if config is None:
        run = RunConfig.from_options(**options)
    else:
        # By name: typer may vendor its own click, whose enum is not click's.
        typed = {k for k in options if ctx.get_parameter_source(k).name == "COMMANDLINE"}
        run = RunConfig.from_toml(config, **{k: options[k] for k in typed})
    where = TrainOutputs(out, resume, data_dir, hallucination_users, progress, artifacts)
    outcome = run_train(run, where, command_line())
    if not outcome.row:  # not the main process of a data-parallel run
        return
    row = outcome.row
    title = f"{row['model']} on {row['dataset']} ({row['ids']}; test split, beam {run.engine.beam})"
    print_rows(title, [outcome.test], list(outcome.test))
    console.print(f"checkpoint: {outcome.checkpoint}")
    if report is not None:
        from genrec.bench.offline import write_offline_report

        write_offline_report(row, outcome.history, report)
        print_report(report)
