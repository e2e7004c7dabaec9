"""CPU the calling process spends per Triton call: the gateway's HTTP client
(`service.triton_http`, through `TritonDecoder`) against tritonclient's gRPC aio client (what
the gateway used before), on one stack and one model, one page per call, calls in sequence.

    .venv/bin/python scripts/triton_call_cpu.py [--calls 300] [--report PATH.json]

The stack is the serving tests' (tests/serving/conftest.py): a tiny decoder on the small
synthetic catalogue, served by the CPU Triton. A process's CPU is read from /proc (10 ms ticks),
so each figure is an average over many calls; `idle_wait_ms` is what the same process spends
on an empty wait of the same length, the floor under both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


async def _per_call(call, n: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, after 20 unmeasured."""
    for _ in range(20):
        await call()
    cpu, wall = _cpu(), time.perf_counter()
    for _ in range(n):
        await call()
    return 1000 * (_cpu() - cpu) / n, 1000 * (time.perf_counter() - wall) / n


async def _measure(stack, n: int) -> dict:
    from tritonclient.grpc import InferInput, InferRequestedOutput
    from tritonclient.grpc.aio import InferenceServerClient

    from genrec.contract import OUTPUTS
    from service.breaker import Breaker
    from service.decoder import TritonDecoder, _inputs, _Page

    page = _Page([1, 2, 3, 4, 5], [], 15, None, False, "")
    http = TritonDecoder(stack.settings_env()["GENREC_TRITON_URL"], "genrec", 10, Breaker(5, 1))
    grpc = InferenceServerClient(f"127.0.0.1:{stack.triton_ports[0].grpc}")

    async def via_grpc() -> None:
        inputs = []
        for spec, values in _inputs([page]):
            tensor = InferInput(spec.name, list(values.shape), spec.datatype)
            tensor.set_data_from_numpy(values)
            inputs.append(tensor)
        outputs = [InferRequestedOutput(spec.name) for spec in OUTPUTS]
        result = await grpc.infer("genrec", inputs, outputs=outputs, client_timeout=10)
        [result.as_numpy(spec.name) for spec in OUTPUTS]

    try:
        http_cpu, http_wall = await _per_call(lambda: http._infer([page]), n)
        grpc_cpu, grpc_wall = await _per_call(via_grpc, n)
        wait_s = np.mean([http_wall, grpc_wall]) / 1000
        idle_cpu, _ = await _per_call(lambda: asyncio.sleep(wait_s), n)
    finally:
        await http.close()
        await grpc.close()
    return {
        "http_cpu_ms_per_call": round(http_cpu, 3), "grpc_cpu_ms_per_call": round(grpc_cpu, 3),
        "idle_wait_ms": round(idle_cpu, 3), "http_wall_ms": round(http_wall, 2),
        "grpc_wall_ms": round(grpc_wall, 2),
        "grpc_over_http": round((grpc_cpu - idle_cpu) / max(http_cpu - idle_cpu, 1e-3), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--report", type=Path, default=REPO / "reports/triton_call_cpu.json")
    args = parser.parse_args()

    import shlex

    import torch
    import uvloop

    from genrec.data.synthetic import SyntheticConfig, generate
    from genrec.device import describe_hardware, resolve_device
    from genrec.local_stack import running_stack
    from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
    from tests.serving.conftest import build_exported

    dataset = generate(SyntheticConfig(n_items=300, n_users=1200, n_clusters=12, seed=7))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TokenizeConfig(method="rqkmeans", signals=("text",))
        store, _ = tokenize(dataset, cfg, Path(tmp) / "art", torch.device("cpu"), progress=False)
        repo = build_exported(dataset, store, store.save(Path(tmp) / "store"), Path(tmp))
        with running_stack(repo, Path(tmp) / "stack", dataset) as stack:
            row = uvloop.run(_measure(stack, args.calls))
    row |= {
        "calls": args.calls, "model": "serving tests' tiny decoder, small synthetic catalogue",
        "hardware": describe_hardware(resolve_device("cpu")),
        "command": shlex.join(["python", *sys.argv]),
    }  # fmt: skip
    args.report.write_text(json.dumps([row], indent=1) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
