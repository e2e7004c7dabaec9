"""`genrec slate`, `genrec bench-slate`: whole-page generation (HiGR) and its benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import DataDir, app, command_line, console, print_rows
from genrec.errors import GenrecError


@app.command()
def slate(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    slots: Annotated[int, typer.Option(help="Items per page")] = 10,
    epochs: int = 5,
    batch_size: int = 256,
    lr: float = 3e-4,
    orpo_weight: Annotated[float, typer.Option(help="Listwise odds-ratio term (0 = off)")] = 0.5,
    ntp_weight: Annotated[float, typer.Option(help="Page-wise NTP term (keeps beam mode)")] = 1.0,
    dropout: Annotated[float, typer.Option(help="Input-embedding dropout")] = 0.1,
    complete_pages: Annotated[
        bool, typer.Option(help="Fill short pages with the starting model's beam top items")
    ] = False,
    eval_users: Annotated[int, typer.Option(help="Validation users decoded per check")] = 2000,
    seed: int = 0,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes; stop at the first validation past it")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Teach a decoder whole-page generation (HiGR: plan, then slots in parallel, with a
    listwise ORPO term). The checkpoint serves both modes and exports like any other."""
    from genrec.align.slate import SlateConfig, train_slates
    from genrec.device import resolve_device
    from genrec.model.checkpoint import save_checkpoint
    from genrec.pipelines.trained import load_trained

    out = out or checkpoint.with_name(f"{checkpoint.name}-slate")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if not 1 <= slots <= 20:
        raise GenrecError(f"--slots must be in 1..20 (the beam width), got {slots}")
    t = load_trained(checkpoint, data_dir)
    decoder, meta, store, store_path, split = t.decoder, t.meta, t.store, t.store_path, t.split
    cfg = SlateConfig(
        slots=slots, epochs=epochs, batch_size=batch_size, lr=lr, orpo_weight=orpo_weight,
        ntp_weight=ntp_weight, dropout=dropout, complete_pages=complete_pages,
        eval_users=eval_users, seed=seed,
        time_budget_s=None if time_budget is None else time_budget * 60,
    )  # fmt: skip
    result = train_slates(decoder, store, split, cfg, resolve_device(device), progress)
    save_checkpoint(
        result.decoder, store, store_path, out,
        {"size": meta.get("size"), "slate_from": str(checkpoint), "slots": slots,
         "slate_command": command_line(), "history": result.history},
    )  # fmt: skip
    columns = ["step", "recall@10", "ndcg@10", "invalid_rate"]
    print_rows(f"slate training on {meta['dataset']} (validation pages)", result.history, columns)
    console.print(f"checkpoint: {out} (stopped: {result.stopped_by}, kept step {result.best_step})")


@app.command("bench-slate")
def bench_slate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint trained by `genrec slate`")],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    k: Annotated[int, typer.Option(help="Items per page")] = 10,
    batches: Annotated[str, typer.Option(help="Comma list of batch sizes timed")] = "1,64",
    repeats: Annotated[int, typer.Option(help="Timed calls per batch size")] = 20,
    test_users: Annotated[int, typer.Option(help="Test users scored (0 = all)")] = 0,
    caps: Annotated[str, typer.Option(help="Comma list of per-code slot caps (1..4)")] = "4",
    report: Annotated[Path, typer.Option(help="JSON report (+ .md)")] = Path("reports/slate.json"),
) -> None:
    """Pages three ways from one checkpoint — beam top-k, item by item, HiGR slate — quality
    on the test split and latency, in one run."""
    from genrec.bench.slate import bench_slates, write_slate_report
    from genrec.device import describe_hardware, resolve_device
    from genrec.pipelines.trained import load_trained
    from genrec.train.trainer import subset

    torch_device = resolve_device(device)
    t = load_trained(checkpoint, data_dir)
    decoder, meta, store, split = t.decoder, t.meta, t.store, t.split
    test = subset(split.test, test_users, 0) if test_users else split.test
    sizes = tuple(int(b) for b in batches.split(","))
    code_caps = tuple(int(c) for c in caps.split(","))
    if not all(1 <= c <= 4 for c in code_caps):
        raise GenrecError(f"--caps must be in 1..4 (the slot beam width), got {caps}")
    rows = bench_slates(
        decoder, store, test, torch_device, k, sizes, repeats, split.max_history, code_caps
    )
    common = {"dataset": meta["dataset"], "checkpoint": checkpoint.name, "test_users": len(test),
              "trained_by": meta.get("slate_command", ""),
              "hardware": describe_hardware(torch_device), "command": command_line()}  # fmt: skip
    console.print(write_slate_report([common | r for r in rows], report))
