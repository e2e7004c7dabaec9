"""`genrec align`: preference alignment of an SFT checkpoint (`genrec.pipelines.align`; its
options are `AlignRun`'s fields)."""

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
from genrec.pipelines.align import AlignRun, run_align


@command_with(AlignRun)
def align(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    data_dir: DataDir = None,
    artifacts: Annotated[
        Path, typer.Option(help="Where `genrec baselines` put SASRec (the reward model)")
    ] = ARTIFACTS,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Merge SFT and aligned test rows into this JSON (+ .md, + PNG)"),
    ] = None,
    progress: Progress = True,
    **options,
) -> None:
    """Align an SFT decoder with user preferences: progressive Softmax-DPO (sdpo), GRPO-SR,
    SAGE or GBPO. Writes a checkpoint that exports like any SFT one."""
    run = AlignRun(**options)
    outcome = run_align(run, checkpoint, artifacts, out, data_dir, progress, command_line())
    columns = ["method", "recall@10", "ndcg@10", "coldstart_share@10", "coldstart_recall@10",
               "entropy@10", "invalid_rate"]  # fmt: skip
    dataset = outcome.rows[0]["dataset"]
    beam = outcome.rows[0]["beam"]
    title = f"{run.method} from {checkpoint.name} on {dataset} (test split, beam {beam})"
    print_rows(title, outcome.rows, columns)
    console.print(
        f"checkpoint: {outcome.checkpoint} (stopped: {outcome.stopped_by}, "
        f"kept step {outcome.best_step})"
    )
    if report is not None:
        from genrec.bench.alignment import write_alignment_report

        write_alignment_report(outcome.rows, report)
        print_report(report)
