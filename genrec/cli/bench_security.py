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
    missing keys, floods, huge headers, slow and idle connections, ...); one row per attack."""
    from genrec.bench.security import SETTINGS, run_attacks, target, write_report
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import running_stack

    _, _, dataset = exported(model_repo, data_dir)
    with running_stack(model_repo, workdir, dataset, gateway_env=SETTINGS) as stack:
        rows = run_attacks(target(stack, dataset))
    meta = {"command": command_line(), "hardware": describe_hardware(resolve_device("cpu"))}
    console.print(write_report(rows, meta, report))
