"""`genrec bench-serve`: end-to-end latency and throughput of the running stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import (
    DataDir,
    Gpu,
    ModelRepo,
    Report,
    StackDir,
    app,
    command_line,
    console,
    exported,
)
from genrec.errors import GenrecError


@app.command("bench-serve")
def bench_serve(
    rate: Annotated[
        list[float],
        typer.Option(help="Open-loop rates to measure, req/s (repeatable; 20 if no point given)"),
    ] = [],
    concurrency: Annotated[
        list[int], typer.Option(help="Closed-loop concurrencies to measure (repeatable)")
    ] = [],
    duration: Annotated[float, typer.Option(help="Seconds measured per point")] = 30.0,
    clients: Annotated[int, typer.Option(help="Load-generating processes")] = 1,
    workers: Annotated[list[int], typer.Option(help="Gateway worker counts (repeatable)")] = [1],
    gpu: Gpu = False,
    gpus: Annotated[
        list[int],
        typer.Option(help="Triton on the first N GPUs (repeatable): also writes the scale-out"),
    ] = [],
    triton_per_gpu: Annotated[
        bool,
        typer.Option(help="With --gpus N: N Triton servers, one per GPU (default: one on all N)"),
    ] = False,
    triton_instances: Annotated[
        int | None,
        typer.Option(help="Model instances per device (default: the model config's count)"),
    ] = None,
    queue_delay_us: Annotated[
        int | None,
        typer.Option(help="Dynamic batcher's max queue delay, µs (default: the config's)"),
    ] = None,
    preferred_batch: Annotated[
        list[int],
        typer.Option(help="Dynamic batcher's preferred batch sizes (repeatable; default: none)"),
    ] = [],
    batch_buckets: Annotated[
        str,
        typer.Option(help="Batch sizes the engine captures CUDA graphs at, e.g. 1,2,4,...,256"),
    ] = "",
    slo_p99_ms: Annotated[float, typer.Option(help="p99 bound of the scale-out report")] = 50.0,
    search_from: Annotated[
        int,
        typer.Option(
            help="Closed loop: from this many requests in flight, double until a point breaks "
            "the p99 bound, then bisect between the last within and the first past (0: off)"
        ),
    ] = 0,
    refine: Annotated[int, typer.Option(help="Bisections of --search-from")] = 2,
    model_repo: ModelRepo = Path("model_repo"),
    setting: Annotated[str, typer.Option(help="Row label, e.g. 'embedded default, CPU'")] = "",
    report: Report = Path("reports/serving_bench.json"),
    workdir: StackDir = Path("build/bench-serve"),
    data_dir: DataDir = None,
) -> None:
    """Start the stack on the latest exported model, load the dataset's histories, and measure
    end-to-end latency (p50/p95/p99), throughput and the time split per request. With `--gpus`,
    once per GPU count, and `serving_scaling.json` says what each count served within the SLO."""
    from genrec.bench.serve import (
        Load,
        measure_point,
        search_levels,
        within_slo,
        write_report,
        write_scaling_report,
    )
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import LOOPBACK_LOAD, ModelOverrides, running_stack
    from genrec.serving import parse_buckets

    if gpus:
        import torch

        if not gpu or max(gpus) > torch.cuda.device_count() or min(gpus) < 1:
            have = torch.cuda.device_count()
            raise GenrecError(f"--gpus {gpus} needs --gpu and 1..{have} GPUs (this machine)")
    if not rate and not concurrency and not search_from:
        rate = [20.0]
    if triton_per_gpu and not gpus:
        raise GenrecError("--triton-per-gpu needs --gpus")
    parameters = ()
    if batch_buckets:  # checked here, so a bad list fails before the stack starts
        parameters = (("batch_buckets", ",".join(map(str, parse_buckets(batch_buckets)))),)
    overrides = ModelOverrides(triton_instances, queue_delay_us, tuple(preferred_batch), parameters)
    _, info, dataset = exported(model_repo, data_dir)
    users = [u.id for u in dataset.users]
    hardware = describe_hardware(resolve_device("cuda" if gpu else "cpu"))
    label = setting or f"{dataset.name}, {'GPU' if gpu else 'CPU'}"
    label += ", one Triton per GPU" if triton_per_gpu else ""
    measured = []

    def sweep(stack, head: dict, n_gpus: int | None) -> None:
        """Every point on one running stack, each row written at once (a cut-off run keeps
        its points)."""

        def measure(load: Load) -> dict:
            point = measure_point(stack, users, load)
            row = head | point | {"hardware": hardware, "command": command_line()}
            write_report([row], report)
            console.print(row)
            measured.append(row | {"gpus": n_gpus})
            return row

        def closed_loop(c: int) -> dict:
            return measure(Load(duration_s=duration, rate=None, concurrency=c, clients=clients))

        for r in rate:
            measure(Load(duration_s=duration, rate=r, clients=clients))
        for c in concurrency:
            closed_loop(c)
        if search_from:
            search_levels(lambda c: within_slo(closed_loop(c), slo_p99_ms), search_from, refine)

    for n_gpus, n_workers in [(g, w) for g in gpus or [None] for w in workers]:
        with running_stack(
            model_repo,
            workdir,
            dataset,
            gpu,
            n_workers,
            gateway_env=LOOPBACK_LOAD,
            triton_gpus=n_gpus,
            triton_servers=n_gpus if triton_per_gpu else 1,
            model_overrides=overrides,
        ) as stack:
            head = {
                "setting": label if n_gpus is None else f"{label}, {n_gpus} GPU(s)",
                "model": f"{info['dataset']} {info.get('size', '')}".strip(),
                "gateway_workers": n_workers,
                **({} if triton_instances is None else {"triton_instances": triton_instances}),
                **({"triton_config": overrides.label()} if overrides.label() else {}),
            }
            sweep(stack, head, n_gpus)
    console.print(report.with_suffix(".md").read_text())
    if gpus:
        scaling = report.with_name("serving_scaling.json")
        console.print(write_scaling_report(measured, label, slo_p99_ms, scaling))
