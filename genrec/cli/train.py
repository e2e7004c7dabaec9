"""`genrec train`: one decoder run (`genrec.pipelines.train.run_train`). The options are the
fields of `RunConfig`'s sub-configs, which own their defaults (the default recipe);
`--config FILE.toml` reads them from a run file, and options typed here override it."""

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
from genrec.pipelines.config import RunConfig
from genrec.pipelines.train import TrainOutputs, run_train

R = RunConfig()


@app.command()
def train(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A run file: TOML tables [data] [tokenizer] [model] [train] [engine] of "
            "these options; options typed here win"
        ),
    ] = None,
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = R.data.dataset,
    size: Annotated[
        str, typer.Option(help="Decoder size: tiny, 5m, 26m, 200m, or pretrained smollm2-135m")
    ] = R.model.size,
    sid_rows: Annotated[
        str, typer.Option(help="Pretrained sizes: SID tokens reuse vocabulary rows, or add rows")
    ] = R.model.sid_rows,
    text_tasks: Annotated[
        float,
        typer.Option(help="Pretrained sizes: weight of the item text ↔ SID tasks (0 = off)"),
    ] = R.train.text_tasks,
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version folder [default: latest]")
    ] = R.tokenizer.store,
    page_size: Annotated[
        int, typer.Option(help="k of page-wise NTP (1 = next-item NTP)")
    ] = R.train.page_size,
    merge_to: Annotated[
        int, typer.Option(help="Token merger: embeddings per history item (0 = no merger)")
    ] = R.model.merge_to,
    user_scid: Annotated[
        bool, typer.Option(help="Prefix prompts with the user's SCID")
    ] = R.model.user_scid,
    dense: Annotated[
        bool, typer.Option(help="Dense head: item embeddings that rerank the beam (hybrid)")
    ] = R.model.dense,
    dense_loss: Annotated[
        float, typer.Option(help="Weight of the dense head's loss")
    ] = R.model.dense_loss,
    dense_weights: Annotated[
        str, typer.Option(help="Comma list of decode weights of the dense head, chosen on valid")
    ] = R.engine.dense_weights,
    dense_candidates: Annotated[
        int, typer.Option(help="The dense head's own top items that join the beam's candidates")
    ] = R.model.dense_candidates,
    dense_input: Annotated[
        bool, typer.Option(help="The dense head's item embeddings also enter the prompt (tied)")
    ] = R.model.dense_input,
    beam: Annotated[
        int, typer.Option(help="Beam width of the test decode and the dense weight's choice")
    ] = R.engine.beam,
    data_dir: DataDir = None,
    device: Device = R.train.device,
    epochs: Annotated[
        int, typer.Option(help="Most epochs; the cosine schedule decays over this many")
    ] = R.train.epochs,
    batch_size: Annotated[
        int, typer.Option(help="Examples per step, over all processes")
    ] = R.train.batch_size,
    lr: float = R.train.lr,
    weight_decay: float = R.train.weight_decay,
    dropout: Annotated[
        float, typer.Option(help="Embedding and attention dropout")
    ] = R.model.dropout,
    residual_dropout: Annotated[
        float, typer.Option(help="Dropout on attention and MLP outputs (residual)")
    ] = R.model.residual_dropout,
    patience: Annotated[
        int, typer.Option(help="Epochs without a better valid Recall@10")
    ] = R.train.patience,
    eval_users: Annotated[
        int, typer.Option(help="Validation users decoded per epoch")
    ] = R.train.eval_users,
    distill: Annotated[
        float, typer.Option(help="Weight of the protocol SASRec's distribution (0 = none)")
    ] = R.train.distill,
    distill_temperature: float = R.train.distill_temperature,
    ema: Annotated[
        float, typer.Option(help="Decay of the weights' average kept (0 = off)")
    ] = R.train.ema,
    artifacts: Annotated[
        Path, typer.Option(help="Where the SASRec teacher is, or is trained into")
    ] = ARTIFACTS,
    seed: int = R.train.seed,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run of the same --out from its state")
    ] = False,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes of training; then stop as early stopping does")
    ] = R.train.time_budget,
    report: Annotated[
        Path | None, typer.Option(help="Merge the test row into this JSON (+ .md, + PNG)")
    ] = None,
    hallucination_users: Annotated[
        int, typer.Option(help="Test users for the unconstrained-decode hallucination rate")
    ] = 500,
    progress: Progress = True,
    strategy: Annotated[
        str,
        typer.Option(
            help="Under torchrun: ddp (replicas), ddp-bf16 (bf16 gradient all-reduce, CUDA) or "
            "fsdp (sharded parameters)"
        ),
    ] = R.train.strategy,
) -> None:
    """Train the decoder; with no options, the default recipe (reports/README.md, "Decoder"): a 5m
    decoder with a dense head (its top 20 items join the beam), distilled from the protocol
    SASRec at weight 0.5 (trained into --artifacts when absent), dropout 0.2, weight decay 0.1,
    a 10-epoch cosine schedule, beam 50. Under `torchrun --nproc_per_node N -m genrec train`
    data-parallel. Prints test metrics of constrained decoding and writes a checkpoint."""
    options = {k: v for k, v in ctx.params.items() if k in RunConfig.options()}
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
    title = (
        f"{row['model']} on {run.data.dataset} ({row['ids']}; test split, beam {run.engine.beam})"
    )
    print_rows(title, [outcome.test], list(outcome.test))
    console.print(f"checkpoint: {outcome.checkpoint}")
    if report is not None:
        from genrec.bench.offline import write_offline_report

        write_offline_report(row, outcome.history, report)
        print_report(report)
