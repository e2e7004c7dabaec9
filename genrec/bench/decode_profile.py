"""`genrec bench-decode --profile`: where one search's device time goes, by kernel family.

The torch profiler records the kernels of a few searches, run eagerly (the captured graph
replays the very same kernels, without the launch gaps), and of the prefill alone; the decode
steps are the difference. Kernels are grouped by name into families, so the table says what to
fuse next.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from genrec.bench.report import write_merged
from genrec.engine.engine import DecodeEngine

# (family, substrings of kernel names), first match wins.
FAMILIES = (
    ("attention", ("fmha", "flash", "attention")),
    ("matmul", ("nvjet", "gemm", "gemv", "cublas")),
    ("fused elementwise (Inductor)", ("triton_",)),
    ("mask + top-k", ("topk", "sort", "scan", "softmax")),
    ("cache writes, copies, gathers", ("copy", "index", "gather", "scatter", "cat", "memcpy")),
)


def family(kernel: str) -> str:
    name = kernel.lower()
    return next((f for f, keys in FAMILIES if any(k in name for k in keys)), "other elementwise")


def _kernel_ms(fn, calls: int) -> dict[str, float]:
    """Device milliseconds per call of fn, summed per kernel family."""
    fn()  # compiles and warms up outside the recording
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    totals: dict[str, float] = {}
    for event in prof.events():
        if event.device_type.name == "CUDA":
            f = family(event.name)
            totals[f] = totals.get(f, 0.0) + event.device_time / 1e3 / calls
    return totals


def profile_search(
    engine: DecodeEngine, prompts: np.ndarray, k: int, calls: int = 5
) -> dict[str, dict[str, float]]:
    """prompts (B, P), all of one length → {"search" | "prefill" | "decode steps": {family: ms}}
    for one call of B requests."""
    if engine.device.type != "cuda":
        raise ValueError("the kernel profile needs a CUDA device")
    runner = engine.runner
    ids = torch.from_numpy(np.asarray(prompts)).to(engine.device)
    valid = torch.ones_like(ids, dtype=torch.bool)
    depth = engine.vocab.sid_depth

    @torch.no_grad()  # as the engine runs: no grad-mode recompiles of its fused kernels
    def prefill() -> None:
        cache = runner.new_cache(len(ids), ids.shape[1], engine.beam * (depth - 1))
        runner.prefill(runner.embed_tokens(ids), valid, cache, padded=False)

    graphs, engine.use_graphs = engine.use_graphs, False
    try:
        search = _kernel_ms(lambda: engine.recommend(prompts, k), calls)
        pre = _kernel_ms(prefill, calls)
    finally:
        engine.use_graphs = graphs
    steps = {f: search[f] - pre.get(f, 0.0) for f in search}
    return {"search": search, "prefill": pre, "decode steps": steps}


def profile_rows(parts: dict[str, dict[str, float]], base: dict) -> list[dict]:
    """One row per (part, family), with its share of the whole search."""
    total = sum(parts["search"].values())
    return [
        {**base, "part": part, "family": f, "ms": ms, "share": ms / total}
        for part, families in parts.items()
        for f, ms in sorted(families.items(), key=lambda kv: -kv[1])
        if abs(ms) >= 1e-3
    ] + [{**base, "part": "search", "family": "total", "ms": total, "share": 1.0}]


COLUMNS = ("gpu", "model", "batch", "part", "family", "ms", "share")


def write_profile_report(rows: list[dict], path: Path) -> None:
    header = (
        "# Where a search's device time goes (torch profiler, kernels by family)\n\n"
        f"Generated from `{path.name}`: device milliseconds of one call (prompt 81 tokens, beam "
        "20, top 10), the search run eagerly with the same kernels the CUDA graph replays; "
        "`decode steps` = search − prefill (it holds the four levels' mask + top-k); `share` "
        "of the whole search.\n\n"
    )
    parts = ("search", "prefill", "decode steps")
    write_merged(
        path, rows, ("gpu", "model", "batch", "part", "family"), header, COLUMNS,
        order=lambda r: (r["gpu"], r["model"], r["batch"], parts.index(r["part"]), -r["ms"]),
    )  # fmt: skip
