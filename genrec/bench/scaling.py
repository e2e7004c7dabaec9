"""`genrec bench-scaling`: decoder training throughput under torchrun for N processes (one per
GPU), with DDP and with FSDP, in `reports/scaling.json` (+ `.md`, + a PNG of speed-up against
N). Every N trains the same seeded model on the same global batches (each process takes its
stride of each), so speed-up, efficiency and final loss compare like with like.

The parent (`run_scaling`) launches one torchrun per row; each launch runs `worker` (this
module as `__main__`), which times `steps` optimizer steps after `warmup` untimed ones through
the trainer's own `optimizer_step` and has rank 0 write the row. With `profile`, rank 0 then
records a few more steps' CUDA kernels and splits the step into compute, communication that
compute does not hide, and idle GPU time: what stays fixed as N grows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from genrec.atomic import locked
from genrec.bench.report import markdown_table, merge_rows, pyplot, save_figure

COLUMNS = (
    "dataset", "model", "strategy", "compile", "gpus", "steps", "global_batch", "tokens_per_s",
    "samples_per_s", "speedup", "efficiency", "final_loss", "loss_vs_1", "peak_mem_gb", "gpu",
)  # fmt: skip
KEY = ("dataset", "model", "strategy", "compile", "global_batch", "gpus")
PROFILE_COLUMNS = (
    "dataset", "model", "strategy", "compile", "gpus", "global_batch", "step_ms", "compute_ms",
    "comm_ms", "exposed_comm_ms", "idle_ms", "gpu",
)  # fmt: skip
PROFILE_STEPS = 5


@dataclass(frozen=True)
class ScalingRun:
    dataset: str
    size: str
    strategy: str  # ddp or fsdp
    nproc: int
    steps: int = 50  # timed optimizer steps
    warmup: int = 5  # untimed steps first (allocator, cuBLAS autotuning)
    batch_size: int = 512  # global: examples per step over all processes
    lr: float = 3e-4  # at 1e-3 (no warm-up) the 200m's loss drifted 3 % from N = 1 to 2
    seed: int = 0
    compile: bool = False  # torch.compile the whole (parallelized) decoder
    profile: bool = False  # CUDA: split PROFILE_STEPS more steps into compute / comm / idle
    device: str = "cuda"
    store: str | None = None  # tokenizer-store version folder; default: the dataset's latest
    data_dir: str | None = None


def worker(run: ScalingRun, out: Path) -> None:
    """One torchrun process: build, parallelize, train `warmup + steps` steps, time the last
    `steps`; rank 0 writes the row as JSON to `out`."""
    import torch
    import torch.distributed as dist

    from genrec.data import leave_one_out, load_dataset
    from genrec.device import describe_hardware, resolve_device
    from genrec.pipelines.config import STORE, RunConfig
    from genrec.pipelines.train import build_run_decoder
    from genrec.tokenizer.store import TokenizerStore, latest
    from genrec.train.distributed import all_sum, close_world, init_world, parallelize
    from genrec.train.examples import page_examples
    from genrec.train.trainer import DecoderTrainConfig, adamw, optimizer_step

    world = init_world(resolve_device(run.device))
    device = world.device
    data = load_dataset(run.dataset, None if run.data_dir is None else Path(run.data_dir))
    store_path = Path(run.store) if run.store else latest(STORE, run.dataset)
    store = TokenizerStore.load(store_path, data.fingerprint())
    torch.manual_seed(run.seed)
    # The decoder `genrec train` builds, without dropout or dense head: the same loss for all N.
    plain = RunConfig.from_options(size=run.size, seed=run.seed, dropout=0.0, dense=False)
    decoder = build_run_decoder(plain, store).to(device).train()
    model = parallelize(decoder, world, run.strategy)
    if run.compile:  # one graph (under DDP one per gradient bucket, so all-reduce overlaps)
        model = torch.compile(model)
    opt = adamw(model, run.lr, 0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    examples = page_examples(leave_one_out(data), 1)
    step_cfg = DecoderTrainConfig(text_weight=1.0)  # what a step reads: no text, no teacher
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(run.seed))
    # Tokens an example feeds the model: BOS, then SID tokens of its history and its target.
    depth = store.item_sids.shape[1]
    tokens = 1 + depth * ((examples.history >= 0).sum(1) + (examples.page >= 0).sum(1))
    examples = examples.to(device)  # `tokens` stays on the host: counting waits for no GPU

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def global_batch(step: int) -> torch.Tensor:
        at = (step * run.batch_size) % (len(order) - run.batch_size + 1)
        return order[at : at + run.batch_size]

    def train_step(batch: torch.Tensor) -> torch.Tensor:
        """One step on this process's stride of the global `batch` → its summed loss."""
        mine = batch[world.rank :: world.size]
        loss = optimizer_step(model, opt, sched, examples, mine, None, None, step_cfg, autocast)
        return loss * len(mine)  # summed over processes after the timing

    losses, timed_tokens, start = [], 0, 0.0
    for step in range(run.warmup + run.steps):
        if step == run.warmup:
            sync()
            start = time.perf_counter()
        batch = global_batch(step)
        losses.append(train_step(batch))
        if step >= run.warmup:
            timed_tokens += int(tokens[batch].sum())
    sync()
    seconds = time.perf_counter() - start
    split = {}
    if run.profile and device.type == "cuda":

        def more_steps() -> None:
            for step in range(run.warmup + run.steps, run.warmup + run.steps + PROFILE_STEPS):
                train_step(global_batch(step))

        if world.main:
            split = profile_steps(more_steps, PROFILE_STEPS, sync)
        else:  # the other ranks take part in the same collectives, unrecorded
            more_steps()
            sync()
    losses = [all_sum(world, float(loss)) / run.batch_size for loss in losses[-10:]]
    if device.type == "cuda":
        peak = torch.tensor([torch.cuda.max_memory_allocated(device) / 2**30], device=device)
    else:  # Linux reports kilobytes
        peak = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20])
    if world.size > 1:
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if world.main:
        row = {
            "dataset": run.dataset,
            "model": f"decoder-{run.size}",
            "strategy": run.strategy,
            "compile": run.compile,
            "gpus": world.size,
            "steps": run.steps,
            "global_batch": run.batch_size,
            "tokens_per_s": round(timed_tokens / seconds, 1),
            "samples_per_s": round(run.steps * run.batch_size / seconds, 1),
            "final_loss": round(sum(losses) / len(losses), 5),
            "peak_mem_gb": round(float(peak.item()), 3),
            "params": sum(p.numel() for p in decoder.parameters()),
            "gpu": describe_hardware(device),
            **split,
        }
        out.write_text(json.dumps(row))
    model = None  # DDP's reducer must go before its process group, or its teardown can hang
    close_world(world)


def profile_steps(run_steps: Callable[[], None], steps: int, sync: Callable[[], None]) -> dict:
    """Run `steps` steps under the CUDA profiler (kernels only: little host overhead) → the
    per-step split of `kernel_split`."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    sync()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        run_steps()
        sync()
        wall_us = (time.perf_counter() - start) * 1e6
    kernels = [
        (e.name, e.time_range.start, e.time_range.end)
        for e in prof.events()
        if e.device_type == DeviceType.CUDA
    ]
    return kernel_split(kernels, wall_us, steps)


def _covered(spans: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) spans."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def kernel_split(kernels: list[tuple[str, float, float]], wall_us: float, steps: int) -> dict:
    """(name, start µs, end µs) of one GPU's kernels over `steps` steps that took `wall_us` →
    milliseconds per step: `compute_ms` the GPU ran any non-NCCL kernel, `comm_ms` any NCCL
    one, `exposed_comm_ms` only NCCL ones (communication that compute did not hide, or a wait
    for a slower rank), `idle_ms` none (the host did not keep the GPU fed)."""
    comm = [(a, b) for name, a, b in kernels if "nccl" in name.lower()]
    compute = [(a, b) for name, a, b in kernels if "nccl" not in name.lower()]
    busy = _covered(comm + compute)

    def per_step(us: float) -> float:
        return round(us / steps / 1e3, 3)

    return {
        "step_ms": per_step(wall_us),
        "compute_ms": per_step(_covered(compute)),
        "comm_ms": per_step(_covered(comm)),
        "exposed_comm_ms": per_step(busy - _covered(compute)),
        "idle_ms": per_step(max(0.0, wall_us - busy)),
    }


def _kill_tree(pid: int) -> None:
    """SIGKILL a launch and every process under it. torchrun starts each rank in a session of
    its own, so killing the launcher's process group left ranks that had started running,
    orphaned and holding its stderr open (the wait for it then never returned). The launcher
    is stopped first, so it starts no rank while its tree is read."""
    import psutil

    try:
        root = psutil.Process(pid)
        root.suspend()
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # anything else of its group


def launch(run: ScalingRun, command: str, timeout_s: float | None = None) -> dict:
    """Run `worker` under torchrun with `run.nproc` processes (one process: no torchrun) → its
    row, with the command that reproduces the whole benchmark. `timeout_s` turns a hung
    launch (a rank stuck in teardown) into an error."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        args = ["-m", "genrec.bench.scaling", json.dumps(asdict(run)), str(out)]
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        argv = [*launcher, "--nproc_per_node", str(run.nproc), *args] if run.nproc > 1 else args
        env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        with subprocess.Popen(
            argv if run.nproc > 1 else [sys.executable, *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                _, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.communicate()
                raise RuntimeError(
                    f"{run.nproc}-process run still running after {timeout_s} s"
                ) from None
        if proc.returncode != 0:
            tail = stderr.decode(errors="replace")[-3000:]
            raise RuntimeError(f"{run.nproc}-process run failed ({proc.returncode}):\n{tail}")
        return json.loads(out.read_text()) | {"command": command}


def with_speedups(rows: list[dict]) -> list[dict]:
    """Speed-up (samples/s over the 1-process row of the same dataset, model, strategy,
    compile setting and global batch), efficiency (speed-up / N) and the final loss's relative
    gap to that row's."""

    def setup(r: dict) -> tuple:
        return r["dataset"], r["model"], r["strategy"], r["compile"], r["global_batch"]

    base = {setup(r): r for r in rows if r["gpus"] == 1}
    out = []
    for r in rows:
        one = base.get(setup(r))
        if one is None:
            out.append(r)
            continue
        speedup = r["samples_per_s"] / one["samples_per_s"]
        gap = abs(r["final_loss"] - one["final_loss"]) / one["final_loss"]
        out.append(
            r | {
                "speedup": round(speedup, 3),
                "efficiency": round(speedup / r["gpus"], 3),
                "loss_vs_1": round(gap, 5),
            }
        )  # fmt: skip
    return out


def plot_scaling(rows: list[dict], png: Path) -> None:
    """Speed-up against processes, one panel per model, one line per dataset × strategy ×
    compile setting × global batch, beside ideal linear scaling."""
    plt = pyplot()

    series: dict[tuple, list[dict]] = {}
    for r in rows:
        if "speedup" in r:
            strategy = r["strategy"] + "+compile" * r["compile"]
            key = (r["model"], r["dataset"], strategy, r["global_batch"])
            series.setdefault(key, []).append(r)
    models = sorted({model for model, *_ in series}) or ["(no rows)"]
    top = max((r["gpus"] for r in rows), default=1)
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        ax.plot([1, top], [1, top], color="gray", ls=":", label="linear")
        for (m, dataset, strategy, batch), sel in sorted(series.items()):
            if m != model:
                continue
            sel.sort(key=lambda r: r["gpus"])
            ax.plot(
                [r["gpus"] for r in sel],
                [r["speedup"] for r in sel],
                marker="o",
                label=f"{dataset} {strategy}, batch {batch}",
            )
        ax.set(xlabel="processes (GPUs)", ylabel="speed-up (samples/s vs 1)", title=model)
        ax.legend(fontsize=7)
    fig.suptitle("Training scale-out")
    save_figure(fig, png)


def write_report(rows: list[dict], path: Path) -> str:
    header = (
        "# Training scale-out (torchrun, DDP and FSDP)\n\n"
        f"Generated from `{path.name}` by `genrec bench-scaling`. Each row: `steps` timed "
        "optimizer steps (after untimed warm-up steps) of the same seeded decoder on the same "
        "global batches of `global_batch` examples, split across `gpus` processes; "
        "`tokens_per_s` counts the tokens the examples feed the model (no padding); `speedup` "
        "is samples/s over the 1-process row of the same dataset, model, strategy, compile "
        "setting and global batch, `efficiency` = speed-up / processes, `loss_vs_1` the "
        "relative gap of the final loss (mean of the last 10 steps) to that row's; "
        "`peak_mem_gb` the most any process held (GPU memory allocated, or resident memory on "
        "CPUs).\n\n"
    )
    with locked(path):  # speed-ups may use 1-process rows of earlier runs
        full = merge_rows(path, with_speedups(merge_rows(path, rows, KEY)), KEY)
        text = header + markdown_table(full, COLUMNS)
        if profiled := [r for r in full if "step_ms" in r]:
            text += (
                "\n## Where a step's time goes (`--profile`, rank 0's GPU)\n\n"
                f"Milliseconds per step over {PROFILE_STEPS} steps after the timed ones, from "
                "the CUDA profiler: `compute_ms` the GPU ran any non-NCCL kernel, `comm_ms` any "
                "NCCL one, `exposed_comm_ms` NCCL alone, `idle_ms` no kernel at all.\n\n"
                + markdown_table(profiled, PROFILE_COLUMNS)
            )
        path.with_suffix(".md").write_text(text)
    plot_scaling(full, path.parent / f"{path.stem}.png")
    return markdown_table(full, COLUMNS)


def runs_for(
    datasets: list[str], sizes: list[str], strategies: list[str], nprocs: list[int], **common
) -> list[ScalingRun]:
    return [
        ScalingRun(d, s, strategy, n, **common)
        for d in datasets
        for s in sizes
        for strategy in strategies
        for n in nprocs
    ]


def _main() -> None:
    parser = argparse.ArgumentParser(description="one bench-scaling process (run by torchrun)")
    parser.add_argument("run", help="ScalingRun as JSON")
    parser.add_argument("out", type=Path, help="rank 0 writes its row here")
    args = parser.parse_args()
    worker(ScalingRun(**json.loads(args.run)), args.out)


if __name__ == "__main__":
    _main()
