"""`genrec bench-decode`, `genrec bench-scaling`: the decode engine against HF generate, and
training scale-out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import DataDir, app, command_line, console
from genrec.errors import GenrecError


@app.command("bench-decode")
def bench_decode(
    sizes: Annotated[
        str, typer.Option(help="Comma list of decoder sizes (tiny, 26m, 200m, 1.4b)")
    ] = "26m,200m",
    batches: Annotated[str, typer.Option(help="Comma list of batch sizes")] = "1,16,64,256",
    beam: int = 20,
    k: Annotated[int, typer.Option(help="Items returned per request")] = 10,
    sid_depth: Annotated[int, typer.Option(help="Tokens per item's SID")] = 4,
    n_items: Annotated[int, typer.Option(help="Items in the random catalogue")] = 12_101,
    history: Annotated[int, typer.Option(help="Items per prompt")] = 20,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    engine_iters: int = 50,
    hf_requests: Annotated[
        int, typer.Option(help="Requests the HF reference decodes per point")
    ] = 512,
    hf_max_batch: Annotated[
        int | None, typer.Option(help="Largest batch the HF reference runs (default: all)")
    ] = None,
    masked: Annotated[
        bool, typer.Option(help="Also time the masked-attention path (the kernel's baseline)")
    ] = True,
    exact_prompts: Annotated[
        int, typer.Option(help="Prompts checked against HF (0 = skip)")
    ] = 1000,
    profile: Annotated[
        bool,
        typer.Option(help="CUDA: also profile one search by kernel family (decode_profile.json)"),
    ] = False,
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/decode_bench.json"
    ),
) -> None:
    """Benchmark the constrained beam-search engine against HF generate in the same run."""
    from genrec.bench.decode import DecodeBench, run_bench, write_decode_report
    from genrec.bench.decode_profile import write_profile_report
    from genrec.device import describe_hardware, resolve_device

    torch_device = resolve_device(device)
    if profile and torch_device.type != "cuda":
        raise GenrecError("--profile reads CUDA kernel times: run it with a CUDA device")
    cfg = DecodeBench(
        sizes=tuple(sizes.split(",")),
        batches=tuple(int(b) for b in batches.split(",")),
        beam=beam,
        k=k,
        sid_depth=sid_depth,
        n_items=n_items,
        history=history,
        hf_max_batch=hf_max_batch,
        masked=masked,
        engine_iters=engine_iters,
        hf_requests=hf_requests,
        exact_prompts=exact_prompts,
        profile=profile,
    )
    gpu = describe_hardware(torch_device)
    rows, exact, profiled = run_bench(cfg, torch_device, gpu, command_line())
    if profiled:
        write_profile_report(profiled, report.with_name("decode_profile.json"))
    text = write_decode_report(rows, exact, report, gpu, exact_model=cfg.sizes[0])
    console.print(text)


@app.command("bench-scaling")
def bench_scaling(
    datasets: Annotated[str, typer.Option(help="Comma list of datasets")] = "synthetic",
    sizes: Annotated[str, typer.Option(help="Comma list of decoder sizes")] = "26m,200m",
    strategies: Annotated[str, typer.Option(help="Comma list: ddp, fsdp")] = "ddp,fsdp",
    gpus: Annotated[
        str, typer.Option(help="Comma list of process counts (one GPU each on CUDA)")
    ] = "1,2,4",
    steps: Annotated[int, typer.Option(help="Timed optimizer steps per row")] = 50,
    warmup: Annotated[int, typer.Option(help="Untimed steps before them")] = 5,
    batch_size: Annotated[int, typer.Option(help="Global batch: examples per step")] = 512,
    compile: Annotated[
        bool, typer.Option("--compile/--no-compile", help="torch.compile the whole decoder")
    ] = False,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile", help="CUDA: profile a few more steps on rank 0 (compute, comm, idle)"
        ),
    ] = False,
    device: Annotated[str, typer.Option(help="cuda (one process per GPU) or cpu (gloo)")] = "cuda",
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version folder [default: latest]")
    ] = None,
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/scaling.json"
    ),
    data_dir: DataDir = None,
) -> None:
    """Training scale-out: for each dataset × size × strategy × N, `torchrun --nproc_per_node
    N` trains the same seeded decoder on the same global batches and times it; speed-up,
    efficiency and final loss against N = 1 go into the report."""
    from rich.progress import track

    from genrec.bench.scaling import launch, runs_for, write_report
    from genrec.device import resolve_device
    from genrec.train.distributed import STRATEGIES, device_error

    counts = sorted({int(n) for n in gpus.split(",")})
    kinds = strategies.split(",")
    if unknown := set(kinds) - set(STRATEGIES):
        raise GenrecError(f"unknown strategies {sorted(unknown)}; expected {', '.join(STRATEGIES)}")
    for kind in kinds:
        if error := device_error(kind, resolve_device(device).type):
            raise GenrecError(error)
    if min(counts) < 1:
        raise GenrecError(f"--gpus takes process counts ≥ 1, got {gpus}")
    if batch_size % max(counts):
        raise GenrecError(f"--batch-size {batch_size} must split evenly over {max(counts)}")
    if device.startswith("cuda"):
        import torch

        have = torch.cuda.device_count()
        if max(counts) > have:
            raise GenrecError(f"--gpus asks for {max(counts)} GPUs; this machine has {have}")
    runs = runs_for(
        datasets.split(","),
        sizes.split(","),
        kinds,
        counts,
        steps=steps,
        warmup=warmup,
        batch_size=batch_size,
        compile=compile,
        profile=profile,
        device=device,
        store=None if store is None else str(store),
        data_dir=None if data_dir is None else str(data_dir),
    )
    table = ""
    for run in track(runs, description="scaling runs"):
        # Row by row: a run cut off by a time limit keeps the rows it measured.
        table = write_report([launch(run, command_line())], report)
    console.print(table)
