"""`genrec slate`, `genrec bench-slate`: whole-page generation (HiGR, `genrec.pipelines.slate`;
its options are `SlateRun`'s fields) and its benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import DataDir, Report, app, command_line, command_with, console, print_rows
from genrec.errors import GenrecError
from genrec.pipelines.slate import SlateRun, run_slate


@command_with(SlateRun)
def slate(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    data_dir: DataDir = None,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
    **options,
) -> None:
    """Teach a decoder whole-page generation (HiGR: plan, then slots in parallel, with a
    listwise ORPO term). The checkpoint serves both modes and exports like any other."""
    o = run_slate(SlateRun(**options), checkpoint, out, data_dir, progress, command_line())
    columns = ["step", "recall@10", "ndcg@10", "invalid_rate"]
    print_rows(f"slate training on {o.dataset} (validation pages)", o.history, columns)
    console.print(f"checkpoint: {o.checkpoint} (stopped: {o.stopped_by}, kept step {o.best_step})")


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
    report: Report = Path("reports/slate.json"),
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
