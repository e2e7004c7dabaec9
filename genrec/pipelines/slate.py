"""`run_slate`: an SFT checkpoint → whole-page generation (HiGR: plan, then slots in parallel,
with a listwise ORPO term) → a checkpoint that serves both modes and exports like any other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrec.errors import GenrecError
from genrec.pipelines.config import option


@dataclass(frozen=True)
class SlateRun:
    """What a slate run does (defaults: `genrec slate`'s)."""

    slots: int = option(10, "Items per page")
    epochs: int = option(5)
    batch_size: int = option(256)
    lr: float = option(3e-4)
    orpo_weight: float = option(0.5, "Listwise odds-ratio term (0 = off)")
    ntp_weight: float = option(1.0, "Page-wise NTP term (keeps beam mode)")
    dropout: float = option(0.1, "Input-embedding dropout")
    complete_pages: bool = option(
        False, "Fill short pages with the starting model's beam top items"
    )
    eval_users: int = option(2000, "Validation users decoded per check")
    seed: int = option(0)
    time_budget: float | None = option(None, "Minutes; stop at the first validation past it")
    device: str = option("auto", "auto, cpu, cuda, ...")


@dataclass
class SlateOutcome:
    history: list[dict]  # the validation pages' figures per check
    checkpoint: Path
    stopped_by: str
    best_step: int
    dataset: str


def run_slate(
    run: SlateRun,
    checkpoint: Path,
    out: Path | None = None,
    data_dir: Path | None = None,
    progress: bool = True,
    command: str = "",
) -> SlateOutcome:
    """out: the checkpoint folder [default: beside the start, `-slate`]."""
    from genrec.align.slate import SlateConfig, train_slates
    from genrec.device import resolve_device
    from genrec.model.checkpoint import save_checkpoint
    from genrec.pipelines.trained import load_trained

    out = out or checkpoint.with_name(f"{checkpoint.name}-slate")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if not 1 <= run.slots <= 20:
        raise GenrecError(f"--slots must be in 1..20 (the beam width), got {run.slots}")
    t = load_trained(checkpoint, data_dir)
    cfg = SlateConfig(
        slots=run.slots, epochs=run.epochs, batch_size=run.batch_size, lr=run.lr,
        orpo_weight=run.orpo_weight, ntp_weight=run.ntp_weight, dropout=run.dropout,
        complete_pages=run.complete_pages, eval_users=run.eval_users, seed=run.seed,
        time_budget_s=None if run.time_budget is None else run.time_budget * 60,
    )  # fmt: skip
    result = train_slates(t.decoder, t.store, t.split, cfg, resolve_device(run.device), progress)
    save_checkpoint(
        result.decoder, t.store, t.store_path, out,
        {"size": t.meta.get("size"), "slate_from": str(checkpoint), "slots": run.slots,
         "slate_command": command, "history": result.history},
    )  # fmt: skip
    return SlateOutcome(result.history, out, result.stopped_by, result.best_step, t.meta["dataset"])
