"""`run_align`: an SFT checkpoint → preference alignment (progressive Softmax-DPO, GRPO-SR, SAGE
or GBPO) → the SFT and aligned test rows → an aligned checkpoint that exports like any other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrec.errors import GenrecError
from genrec.pipelines.config import option


@dataclass(frozen=True)
class AlignRun:
    """What an alignment run does (defaults: `genrec align`'s)."""

    method: str = option("sdpo", "sdpo, grpo-sr, sage or gbpo")
    lr: float = option(1e-4)
    epochs: int = option(1, "Passes over the prompts (per DPO stage)")
    batch_size: int = option(128, "Prompts per step")
    beta: float = option(0.1, "DPO temperature")
    group: int = option(16, "Policy methods: candidates per prompt")
    eval_every: int = option(50, "Policy methods: steps per validation")
    aux_weight: float = option(0.5, "GBPO / SAGE: weight of the cold-start and diversity rewards")
    nll_weight: float | None = option(None, "Policy methods: NLL on the ground truth [method's]")
    eval_users: int = option(2000, "Validation users decoded per check")
    seed: int = option(0)
    time_budget: float | None = option(None, "Minutes; stop at the first validation past it")
    device: str = option("auto", "auto, cpu, cuda, ...")

    def label(self) -> str:
        """The method and its non-default settings, so rows of one report stay apart."""
        return self.method + "".join(
            part
            for part, on in (
                (f" lr{self.lr:g}", self.lr != 1e-4),
                (f" beta{self.beta:g}", self.beta != 0.1),
                (f" aux{self.aux_weight:g}", self.aux_weight != 0.5),
                (f" nll{self.nll_weight or 0:g}", self.nll_weight is not None),
            )
            if on
        )


@dataclass
class AlignOutcome:
    rows: list[dict]  # the SFT start's test row, then the aligned one
    checkpoint: Path
    stopped_by: str
    best_step: int


def run_align(
    run: AlignRun,
    checkpoint: Path,
    artifacts: Path,
    out: Path | None = None,
    data_dir: Path | None = None,
    progress: bool = True,
    command: str = "",
) -> AlignOutcome:
    """`artifacts`: where `genrec baselines` put SASRec, the reward model of the policy
    methods; out: the checkpoint folder [default: beside the start, named by the label]."""
    from genrec.align.dpo import DPOConfig
    from genrec.align.policy_gradient import PGConfig
    from genrec.align.trainer import METHODS, AlignConfig, align
    from genrec.baselines.artifacts import load_sasrec
    from genrec.device import describe_hardware, resolve_device
    from genrec.model.checkpoint import load_checkpoint, save_checkpoint
    from genrec.pipelines.trained import load_trained
    from genrec.train.evaluation import test_metrics

    if run.method not in METHODS:
        raise GenrecError(f"unknown method {run.method!r}; expected one of {', '.join(METHODS)}")
    label = run.label()
    out = out or checkpoint.with_name(f"{checkpoint.name}-{label.replace(' ', '-')}")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    trained = load_trained(checkpoint, data_dir)
    dataset, tokenizer, split = trained.meta["dataset"], trained.store, trained.split
    start = trained.meta.get("test", {})
    beam = start.get("beam", 20)  # validate and test at the width the start was tested (served)
    sasrec = None
    if run.method != "sdpo":
        if not (artifacts / dataset / "sasrec" / "meta.json").is_file():
            raise GenrecError(
                f"{artifacts / dataset / 'sasrec'}: no SASRec reward model; run "
                f"`genrec baselines --dataset {dataset}` first"
            )
        sasrec = load_sasrec(artifacts / dataset / "sasrec")
    device = resolve_device(run.device)
    cfg = AlignConfig(
        method=run.method, lr=run.lr, eval_users=run.eval_users, beam=beam, seed=run.seed,
        time_budget_s=None if run.time_budget is None else run.time_budget * 60,
        dpo=DPOConfig(beta=run.beta, epochs=run.epochs, batch_size=run.batch_size),
        pg=PGConfig(
            group=run.group, batch_size=run.batch_size, epochs=run.epochs,
            eval_every=run.eval_every,
            weights={"accuracy": 1.0, "coldstart": run.aux_weight, "diversity": run.aux_weight},
        ),
        nll_weight=run.nll_weight,
    )  # fmt: skip
    result = align(trained.decoder, tokenizer, trained.data, split, cfg, device, sasrec, progress)
    common = {"dataset": dataset, "start": checkpoint.name,
              "hardware": describe_hardware(device), "command": command}  # fmt: skip

    def test_row(model, **extra) -> dict:
        test = test_metrics(model.to(device), tokenizer, split.test, device, beam, cold=result.cold)
        return {**common, **test, **extra}

    feedback = (
        "self-play + real ratings" if trained.data.has_ratings else "self-play only (no ratings)"
    )
    rows = [
        test_row(load_checkpoint(checkpoint, tokenizer)[0], method="sft", best_step=0, seconds=0.0),
        test_row(
            result.decoder, method=label, best_step=result.best_step,
            seconds=round(result.seconds, 1), curve=result.history,
            feedback=feedback if run.method == "sdpo" else "rewards (SASRec + gate)",
        ),
    ]  # fmt: skip
    # The aligned checkpoint's test row is its start's (ids, params, ...) with the aligned
    # figures, this command, and the two stages' time, so `genrec bench-recipe` reads an
    # aligned run like a trained one.
    aligned = {k: v for k, v in rows[-1].items() if k not in ("curve", "seconds")}
    stage = {
        "stopped_by": f"{start.get('stopped_by', '?')} @ {start.get('best_epoch', '?')}, "
        f"then {run.method} {result.stopped_by}",
        "best_epoch": f"step {result.best_step}",
        "train_seconds": round(start.get("train_seconds", 0.0) + result.seconds, 1),
    }
    save_checkpoint(
        result.decoder, tokenizer, trained.store_path, out,
        {"size": trained.meta.get("size"), "aligned_from": str(checkpoint),
         "method": run.method, "test": {**start, **aligned, **stage}, "history": result.history},
    )  # fmt: skip
    return AlignOutcome(rows, out, result.stopped_by, result.best_step)
