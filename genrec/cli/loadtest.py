"""`genrec loadtest`, `genrec bench-reliability`: Locust against the stack, and faults under
traffic."""

from __future__ import annotations

from dataclasses import replace
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


@app.command()
def loadtest(
    users: Annotated[
        str,
        typer.Option(help="Steady Locust users (a burst triples them); a comma list sweeps"),
    ] = "15",
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 5.0,
    run_time: Annotated[int, typer.Option(help="Seconds per run")] = 60,
    p99_ms: Annotated[float, typer.Option(help="SLO: p99 latency, all requests")] = 150.0,
    error_rate: Annotated[float, typer.Option(help="SLO: share of failed requests")] = 0.0,
    processes: Annotated[int, typer.Option(help="Locust load processes")] = 1,
    burst: Annotated[
        float, typer.Option(help="Users multiplier for the middle fifth of each run (1 = none)")
    ] = 3.0,
    gpu: Gpu = False,
    workers: Annotated[int, typer.Option(help="Gateway worker processes")] = 1,
    model_repo: ModelRepo = Path("model_repo"),
    setting: Annotated[str, typer.Option(help="Row label")] = "",
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + PNG)")] = Path(
        "reports/loadtest.json"
    ),
    workdir: Annotated[Path, typer.Option(help="Logs, Redis data, CSVs")] = Path("build/loadtest"),
    data_dir: DataDir = None,
) -> None:
    """Start the stack, run the Locust scenarios headless against it for a bounded time (once
    per user count of a sweep, on the same stack), and write the report; exit 1 when an SLO
    broke (in a sweep: at every user count)."""
    from genrec.bench import loadtest as lt
    from genrec.bench.serve import cpu_ms_per_request, cpu_seconds, scrape
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import LOOPBACK_LOAD, running_stack

    levels = [int(u) for u in users.split(",")]
    _, _, dataset = exported(model_repo, data_dir)
    catalog = lt.write_catalog(
        [u.id for u in dataset.users], [i.id for i in dataset.items], workdir / "catalog.json"
    )
    runs = [
        lt.Run(n, spawn_rate, run_time, p99_ms, error_rate, None, processes, burst) for n in levels
    ]
    label = setting or f"{dataset.name}, {'GPU' if gpu else 'CPU'}, {workers} gateway worker(s)"
    codes, server = [], []  # per run: (its server-side p99s, CPU seconds before and after)
    # (bench-reliability tests the per-address limit that LOOPBACK_LOAD lifts)
    with running_stack(
        model_repo, workdir, dataset, gpu, workers, gateway_env=LOOPBACK_LOAD
    ) as stack:
        for r in runs:
            before, cpu_before = scrape(stack.metrics_url), cpu_seconds(stack, "locust")
            keyed = replace(r, api_key=stack.api_key)  # the stack's generated write key
            codes.append(lt.run_locust(stack.url, catalog, keyed, workdir / f"locust-{r.users}"))
            p99s = lt.server_p99s(before, scrape(stack.metrics_url))
            server.append((p99s, cpu_before, cpu_seconds(stack, "locust")))
    hardware = describe_hardware(resolve_device("cuda" if gpu else "cpu"))
    rows = []
    for r, (p99s, cpu_before, cpu_after) in zip(runs, server, strict=True):
        for row in lt.read_rows(workdir / f"locust-{r.users}", r):
            if row["scenario"] == "all":  # the server's view covers all requests
                row |= p99s | cpu_ms_per_request(cpu_before, cpu_after, row["requests"])
            rows.append({"setting": label, **row, "hardware": hardware, "command": command_line()})
    slug = label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    png = report.parent / f"loadtest_{slug}.png"
    if len(runs) == 1:
        lt.plot_history(workdir / f"locust-{levels[0]}", png, label)
    else:
        lt.plot_knee(rows, png.with_name(f"loadtest_{slug}_knee.png"), label)
    console.print(lt.write_report(rows, report))
    if all(code != 0 for code in codes):
        raise typer.Exit(1)


@app.command("bench-reliability")
def bench_reliability(
    model_repo: ModelRepo = Path("model_repo"),
    report: Report = Path("reports/reliability.json"),
    workdir: StackDir = Path("build/bench-reliability"),
    data_dir: DataDir = None,
) -> None:
    """Cause faults on the local stack under steady traffic (Triton killed, stalled and
    stopped, Redis killed, every server restarted, a flooding client, malformed bodies, a
    version rolled out), check tokenizer determinism, then Schemathesis; write what users saw.
    The stack serves a copy of the latest version under --workdir (the rollout adds one)."""
    import secrets

    from genrec.bench.reliability import (
        isolated_repo,
        run_faults,
        run_schemathesis,
        tokenizer_determinism,
        write_report,
    )  # fmt: skip
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import running_stack

    _, _, dataset = exported(model_repo, data_dir)
    key = secrets.token_hex(16)
    settings = {  # a rate limit a 2-core flooder can exceed while steady traffic stays under
        "GENREC_API_KEY": key,
        "GENREC_BREAKER_RESET_S": "1",
        "GENREC_RATE_LIMIT_RPS": "50",
        "GENREC_RATE_LIMIT_BURST": "100",
        "GENREC_CATALOG_POLL_S": "0.5",  # the rollout: follow a new version within a second
        "GENREC_ACCEPT_NEW_USERS": "true",  # the posting checks' users are their own
    }
    repo = isolated_repo(model_repo, workdir)
    with running_stack(repo, workdir, dataset, gateway_env=settings) as stack:
        users, items = [u.id for u in dataset.users], [i.id for i in dataset.items]
        rows = run_faults(stack, users, items, key)
        # Users of its own (its events change their histories), items a bounded sample of.
        schemathesis = run_schemathesis(stack.url, stack.redis_url, key, users[-16:], items[:500])
    rows.append(tokenizer_determinism(workdir))
    meta = {"command": command_line(), "hardware": describe_hardware(resolve_device("cpu"))}
    console.print(write_report(rows, schemathesis, meta, report))
