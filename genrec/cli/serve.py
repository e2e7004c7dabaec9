"""`genrec export`, `genrec serve`, `genrec stop`: a checkpoint into the Triton model
repository, the local stack that serves it (in the foreground or detached), and its stop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genrec.cli.common import DataDir, Gpu, ModelRepo, app, console, exported
from genrec.errors import GenrecError

if TYPE_CHECKING:  # the CLI imports the library only in the command that needs it
    from genrec.data import Dataset

Workdir = Annotated[Path, typer.Option(help="Logs, Redis data, credentials, the stack's pids")]
STACK = Path("build/stack")


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A `genrec train` checkpoint folder")],
    repo: ModelRepo = Path("model_repo"),
    name: Annotated[str, typer.Option(help="Model name in the repository")] = "genrec",
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version [default: the one it recorded]")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy a checkpoint, its tokenizer-store version and the catalogue the gateway shows into
    the next version of a Triton model; its export.json pins the store, the tracked
    configurations stay as they are."""
    from genrec.pipelines.export import run_export

    console.print(f"exported: {run_export(checkpoint, repo, name, store, data_dir)}")


@app.command()
def serve(
    model_repo: ModelRepo = Path("model_repo"),
    gpu: Gpu = False,
    port: Annotated[int, typer.Option(help="Gateway port on 127.0.0.1")] = 8000,
    workers: Annotated[int, typer.Option(help="Gateway worker processes")] = 1,
    api_key: Annotated[
        str | None,
        typer.Option(help="The X-API-Key writes need [default: generated once into the workdir]"),
    ] = None,
    detach: Annotated[
        bool, typer.Option(help="Start in the background, return once serving (`genrec stop`)")
    ] = False,
    workdir: Workdir = STACK,
    data_dir: DataDir = None,
) -> None:
    """Start two redis-servers (events; the cache), tritonserver (the latest exported model)
    and the gateway on loopback, load the dataset's histories into Redis, and serve until
    Ctrl-C or `genrec stop`, which stop them all."""
    from genrec import daemon

    version, _, dataset = exported(model_repo, data_dir)
    state = daemon.running(workdir)
    if state is not None:
        raise GenrecError(f"already serving at {state['url']} (pid {state['pid']}): genrec stop")
    creds = daemon.credentials(workdir, api_key)
    if detach:
        argv = [a for a in sys.argv[1:] if a not in ("--detach", "--no-detach")]
        console.print(f"starting the stack in the background (log: {workdir}/logs/serve.log)...")
        state = daemon.detach(argv, workdir)
        banner = _banner(dataset.name, version.name, dataset.users[0].id, creds, state)
        console.print(banner, soft_wrap=True)
        console.print(f"stop: genrec stop --workdir {workdir}")
        return
    _serve_foreground(model_repo, workdir, dataset, gpu, workers, port, creds, version.name)


def _serve_foreground(
    model_repo: Path,
    workdir: Path,
    dataset: Dataset,
    gpu: bool,
    workers: int,
    port: int,
    creds: dict[str, str],
    version: str,
) -> None:
    """The supervisor: the stack until SIGINT/SIGTERM, restarting any server that crashes."""
    import signal
    import time

    from genrec import daemon
    from genrec.local_stack import running_stack

    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    secrets = {"GENREC_API_KEY": creds["api_key"], "GENREC_TOKEN_SECRET": creds["token_secret"]}
    console.print(f"starting redis-servers, tritonserver ({'GPU' if gpu else 'CPU'}), gateway...")
    with running_stack(model_repo, workdir, dataset, gpu, workers, port, secrets) as stack:
        facts = {
            "url": stack.url,
            "metrics": stack.metrics_url,
            "triton_metrics": f"http://127.0.0.1:{stack.triton_metrics}/metrics",
        }

        def record() -> None:
            daemon.record(workdir, {s.name: s.process.pid for s in stack.services}, **facts)

        record()
        console.print(
            _banner(dataset.name, version, dataset.users[0].id, creds, facts), soft_wrap=True
        )
        console.print(f"logs: {workdir}/logs/   stop: Ctrl-C (or genrec stop)")
        try:
            while not stopping:
                # A crashed server is started again (Redis from its append-only file).
                for name in stack.restart_exited():
                    console.print(f"{name} exited; restarted it (log: {workdir}/logs/)")
                    record()
                time.sleep(0.5)
            console.print("stopping gateway, tritonserver, redis-servers...")
        finally:
            daemon.forget(workdir)
    console.print("stopped")


def _banner(dataset: str, version: str, user: str, creds: dict, facts: dict) -> str:
    url, key = facts["url"], creds["api_key"]
    return (
        f"\n[bold]genrec is serving[/] {dataset} model {version}\n\n"
        f"  page:    {url}/#key={key}\n"
        f"  API:     {url}/docs\n"
        f"  metrics: {facts['metrics']}   Triton: {facts['triton_metrics']}\n"
        f"  API key: {key}   (writes send it as X-API-Key)\n\ntry:\n"
        f"  curl -s -X POST {url}/v1/recommendations -H 'content-type: application/json' "
        f'-d \'{{"user_id": "{user}", "page_size": 5}}\'\n'
    )


@app.command()
def stop(workdir: Workdir = STACK) -> None:
    """Stop the stack `genrec serve` started from this workdir (detached or not), and make sure
    none of its processes is left."""
    from genrec import daemon

    stopped = daemon.stop(workdir)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was serving")
