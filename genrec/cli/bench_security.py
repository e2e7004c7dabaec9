"""`genrec bench-security`: the attacks of `genrec.bench.security` against the local stack."""

from __future__ import annotations

from pathlib import Path

from genrec.cli.common import (
    DataDir,
    ModelRepo,
    Report,
    StackDir,
    app,
    command_line,
    console,
    exported,
)


@app.command("bench-security")
def bench_security(
    model_repo: ModelRepo = Path("model_repo"),
    report: Report = Path("reports/security.json"),
    workdir: StackDir = Path("build/bench-security"),
    data_dir: DataDir = None,
) -> None:
    """Attack the gateway of the local stack on loopback (non-standard JSON, forged tokens,
    missing keys, floods, huge headers, slow and idle connections, ...); one row per attack.
    Then Schemathesis over its schema, two seeds, generated ids swapped for known ones."""
    from genrec.bench.reliability import run_schemathesis
    from genrec.bench.security import SETTINGS, run_attacks, target, write_report
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import running_stack

    _, _, dataset = exported(model_repo, data_dir)
    with running_stack(model_repo, workdir, dataset, gateway_env=SETTINGS) as stack:
        with stack.another_gateway(SETTINGS, workdir / "logs") as (port, _):
            rows = run_attacks(target(stack, dataset, port))
        users, items = [u.id for u in dataset.users[-16:]], [i.id for i in dataset.items[:500]]
        schemathesis = run_schemathesis(stack.url, stack.redis_url, stack.api_key, users, items)
    meta = {"command": command_line(), "hardware": describe_hardware(resolve_device("cpu"))}
    meta |= schemathesis
    console.print(write_report(rows, meta, report))
