"""`genrec export`, `genrec serve`: a checkpoint into the Triton model repository, and the local
stack that serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.common import DataDir, Gpu, ModelRepo, app, console, exported
from genrec.errors import GenrecError


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
    from genrec.data import load_dataset
    from genrec.export import export as export_version
    from genrec.model.checkpoint import read_meta

    dataset = load_dataset(read_meta(checkpoint)["dataset"], data_dir)
    console.print(f"exported: {export_version(checkpoint, repo, dataset, name, store)}")


@app.command()
def serve(
    model_repo: ModelRepo = Path("model_repo"),
    gpu: Gpu = False,
    port: Annotated[int, typer.Option(help="Gateway port on 127.0.0.1")] = 8000,
    workers: Annotated[int, typer.Option(help="Gateway worker processes")] = 1,
    workdir: Annotated[Path, typer.Option(help="Logs, Redis data, backends")] = Path("build/stack"),
    data_dir: DataDir = None,
) -> None:
    """Start redis-server, tritonserver (the latest exported model) and the gateway on loopback,
    load the dataset's histories into Redis, and serve until Ctrl-C, which stops all three."""
    import signal
    import time

    from genrec.local_stack import running_stack

    version, _, dataset = exported(model_repo, data_dir)
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console.print(f"starting redis-server, tritonserver ({'GPU' if gpu else 'CPU'}), gateway...")
    with running_stack(model_repo, workdir, dataset, gpu, workers, port) as stack:
        user = dataset.users[0].id
        console.print(
            f"\n[bold]genrec is serving[/] {dataset.name} model {version.name} at {stack.url}"
            f"  (docs: {stack.url}/docs, metrics: {stack.url}/metrics, Triton metrics: "
            f"http://127.0.0.1:{stack.triton_metrics}/metrics)\n\ntry:\n"
            f"  curl -s -X POST {stack.url}/v1/recommendations "
            f"-H 'content-type: application/json' "
            f'-d \'{{"user_id": "{user}", "page_size": 5}}\'\n\n'
            f"logs: {workdir}/logs/   stop: Ctrl-C"
        )
        while not stopping:
            for service in stack.services:
                if service.process.poll() is not None:
                    raise GenrecError(f"{service.name} exited; see {service.log}")
            time.sleep(0.5)
        console.print("stopping gateway, tritonserver, redis-server...")
    console.print("stopped")
