"""`genrec align`: preference alignment of an SFT checkpoint (`genrec.pipelines.align`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    ARTIFACTS,
    DataDir,
    Device,
    Progress,
    app,
    command_line,
    console,
    print_report,
    print_rows,
)  # fmt: skip


@app.command()
def align(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    method: Annotated[str, typer.Option(help="sdpo, grpo-sr, sage or gbpo")] = "sdpo",
    data_dir: DataDir = None,
    device: Device = "auto",
    lr: float = 1e-4,
    epochs: Annotated[int, typer.Option(help="Passes over the prompts (per DPO stage)")] = 1,
    batch_size: Annotated[int, typer.Option(help="Prompts per step")] = 128,
    beta: Annotated[float, typer.Option(help="DPO temperature")] = 0.1,
    group: Annotated[int, typer.Option(help="Policy methods: candidates per prompt")] = 16,
    eval_every: Annotated[int, typer.Option(help="Policy methods: steps per validation")] = 50,
    aux_weight: Annotated[
        float, typer.Option(help="GBPO / SAGE: weight of the cold-start and diversity rewards")
    ] = 0.5,
    nll_weight: Annotated[
        float | None, typer.Option(help="Policy methods: NLL on the ground truth [method's]")
    ] = None,
    eval_users: Annotated[int, typer.Option(help="Validation users decoded per check")] = 2000,
    seed: int = 0,
    artifacts: Annotated[
        Path, typer.Option(help="Where `genrec baselines` put SASRec (the reward model)")
    ] = ARTIFACTS,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes; stop at the first validation past it")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Merge SFT and aligned test rows into this JSON (+ .md, + PNG)"),
    ] = None,
    progress: Progress = True,
) -> None:
    """Align an SFT decoder with user preferences: progressive Softmax-DPO (sdpo), GRPO-SR,
    SAGE or GBPO. Writes a checkpoint that exports like any SFT one."""
    from genrec.pipelines.align import AlignRun, run_align

    run = AlignRun(
        method=method, lr=lr, epochs=epochs, batch_size=batch_size, beta=beta, group=group,
        eval_every=eval_every, aux_weight=aux_weight, nll_weight=nll_weight,
        eval_users=eval_users, seed=seed, time_budget=time_budget, device=device,
    )  # fmt: skip
    outcome = run_align(run, checkpoint, artifacts, out, data_dir, progress, command_line())
    columns = ["method", "recall@10", "ndcg@10", "coldstart_share@10", "coldstart_recall@10",
               "entropy@10", "invalid_rate"]  # fmt: skip
    dataset = outcome.rows[0]["dataset"]
    title = f"{method} from {checkpoint.name} on {dataset} (test split, beam 20)"
    print_rows(title, outcome.rows, columns)
    console.print(
        f"checkpoint: {outcome.checkpoint} (stopped: {outcome.stopped_by}, "
        f"kept step {outcome.best_step})"
    )
    if report is not None:
        from genrec.bench.alignment import write_alignment_report

        write_alignment_report(outcome.rows, report)
        print_report(report)
