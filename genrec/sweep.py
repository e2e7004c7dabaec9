"""Experiments as files: `genrec sweep FILE.toml` runs every (variant, dataset, seed) of a grid
as its own `genrec train` process, several side by side (one GPU fits many small decoders), and
collects logs and exit codes.

Each run trains into `<runs>/<dataset>-<variant>-s<seed>`, so no run overwrites another and the
folder is what `genrec bench-recipe` aggregates. A sweep started again skips the runs that
finished and resumes the ones cut off (their state file), so a long grid can run as chunks of a
device call each. With `sasrec_seeds`, SASRec is trained per dataset and seed first (the
same-run baseline, `sasrec-<dataset>-s<seed>.json`), and with `tokenize = true` a dataset
without a tokenizer store gets one from seed 0's SASRec embeddings before its decoders train.

    datasets = ["beauty", "ml-100k"]
    seeds = [0, 1, 2]
    sasrec_seeds = [0, 1, 2]
    tokenize = true
    args = ["--device", "cuda", "--no-progress"]   # every train run

    [[variant]]
    name = "default"                               # the recipe: no flags

    [[variant]]
    name = "dc20"
    args = ["--dense-candidates", "20"]
    datasets = ["beauty"]                          # optional: its own grid
    seeds = [0]

    [[variant]]
    name = "grpo"
    align = "default"                              # `genrec align` that variant's checkpoints
    args = ["--method", "grpo-sr", "--lr", "5e-5"]  # (align's arguments, not train's)

A variant with `align` (or `slate`) is a last stage: its runs align (or teach whole pages to)
the named variant's run of the same dataset and seed, aligned runs with that seed's SASRec as
the reward model, and land beside the trained runs, so the report reads them as one more
variant.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genrec.errors import GenrecError
from genrec.pipelines.config import STORE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The commands of a last stage, from a trained variant's checkpoint → whether they read SASRec.
LAST = {"align": True, "slate": False}


@dataclass(frozen=True)
class Job:
    """One process of the sweep: its name (also its output folder and log), its arguments."""

    name: str
    args: tuple[str, ...]
    stage: int  # 0: SASRec, 1: tokenize, 2: train, 3: align or slate; each once the last is done
    out: Path | None = None  # a folder that exists once the job has finished


@dataclass
class Outcome:
    job: Job
    code: int
    seconds: float
    status: str = field(default="")  # done, failed, skipped


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise GenrecError(f"{where}: expected a list of strings")
    return tuple(str(v) for v in value)


def _ints(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise GenrecError(f"{where}: expected a list of integers")
    return tuple(value)


def plan(path: Path, runs: Path, time_budget: float | None = None) -> list[Job]:
    """The sweep file → its jobs in stage order. Refuses an unreadable file, unknown keys,
    bad names and two variants of one name, before anything runs."""
    try:
        spec = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise GenrecError(f"{path}: {e}") from None
    known = {"datasets", "seeds", "sasrec_seeds", "tokenize", "args", "variant"}
    if unknown := sorted(set(spec) - known):
        raise GenrecError(
            f"{path}: unknown key {unknown[0]!r}; expected {', '.join(sorted(known))}"
        )
    datasets = _strings(spec.get("datasets", ["synthetic"]), f"{path}: datasets")
    seeds = _ints(spec.get("seeds", [0]), f"{path}: seeds")
    common = _strings(spec.get("args", []), f"{path}: args")
    variants = spec.get("variant", [])
    if not variants:
        raise GenrecError(f"{path}: no [[variant]] to run")
    jobs: list[Job] = []
    sasrec_seeds = _ints(spec.get("sasrec_seeds", []), f"{path}: sasrec_seeds")
    for seed in sasrec_seeds:
        for d in datasets:
            art = _artifacts(runs, seed)
            rows = runs / f"sasrec-{d}-s{seed}.json"
            args = ("baselines", "-d", d, "--seed", str(seed), "--model", "sasrec",
                    "--artifacts", art, "--report", str(rows), "--no-progress",
                    *_device(common))  # fmt: skip
            jobs.append(Job(f"sasrec-{d}-s{seed}", args, 0, rows))
    if spec.get("tokenize", False):
        for d in datasets:
            args = ("tokenize", "-d", d, "--no-progress", *_device(common))
            jobs.append(Job(f"tokenize-{d}", args, 1, STORE / d))  # none yet: build one
    seen = set()
    trained = {
        str(u.get("name")) for u in variants if isinstance(u, dict) and not set(u) & set(LAST)
    }
    for i, v in enumerate(variants):
        where = f"{path}: variant {i + 1}"
        if not isinstance(v, dict) or not NAME.match(str(v.get("name", ""))):
            raise GenrecError(f"{where}: needs a name of letters, digits, '.', '_' or '-'")
        if unknown := sorted(set(v) - {"name", "args", "datasets", "seeds", *LAST}):
            raise GenrecError(f"{where}: unknown key {unknown[0]!r}")
        if v["name"] in seen:
            raise GenrecError(f"{where}: a second variant named {v['name']!r}")
        seen.add(v["name"])
        if len(last := [k for k in LAST if k in v]) > 1:
            raise GenrecError(f"{where}: one of {' or '.join(LAST)}, not both")
        command = last[0] if last else "train"
        start = v.get(command)
        if start is not None and start not in trained:
            raise GenrecError(
                f"{where}: {command} = {start!r} names no trained variant of this file"
            )
        extra = _strings(v.get("args", []), f"{where}: args")
        for d in _strings(v.get("datasets", list(datasets)), f"{where}: datasets"):
            for seed in _ints(v.get("seeds", list(seeds)), f"{where}: seeds"):
                name = f"{d}-{v['name']}-s{seed}"
                out = runs / name
                if start is None:
                    args = ("train", "-d", d, "--seed", str(seed), *common, *extra)
                else:  # the command's own options: only the device and progress carry over
                    quiet = ("--no-progress",) if "--no-progress" in common else ()
                    args = (command, str(runs / f"{d}-{start}-s{seed}"), "--seed", str(seed),
                            *_device(common), *quiet, *extra)  # fmt: skip
                args += ("--out", str(out))
                if seed in sasrec_seeds and LAST.get(command, True):
                    args += ("--artifacts", _artifacts(runs, seed))  # teacher or reward model
                if time_budget is not None:
                    args += ("--time-budget", f"{time_budget:g}")
                jobs.append(Job(name, args, 2 if start is None else 3, out))
    return jobs


def _artifacts(runs: Path, seed: int) -> str:
    """Where a seed's SASRec goes: seed 0's where the tokenizer reads it, the others beside."""
    return "artifacts" if seed == 0 else str(runs / f"artifacts-s{seed}")


def _device(common: tuple[str, ...]) -> tuple[str, ...]:
    """The `--device` of the train arguments, which the SASRec and tokenize jobs share."""
    if "--device" in common and common.index("--device") + 1 < len(common):
        return ("--device", common[common.index("--device") + 1])
    return ()


def _gpus() -> int:
    import torch  # here, so reading a sweep file needs no torch start-up

    return torch.cuda.device_count()


def run_sweep(jobs: list[Job], runs: Path, parallel: int, progress: bool = True) -> list[Outcome]:
    """Runs the jobs, at most `parallel` at a time, stage by stage; on a machine with several
    GPUs job i sees GPU i mod N. → one outcome per job (finished ones are skipped)."""
    logs = runs / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    gpus = _gpus()
    outcomes: list[Outcome] = []
    columns = [TextColumn("sweep"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn()]  # fmt: skip
    live: list[subprocess.Popen] = []
    try:
        with Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("sweep", total=len(jobs), status="")
            for stage in sorted({j.stage for j in jobs}):
                queue = [j for j in jobs if j.stage == stage]
                running: list[tuple[Job, subprocess.Popen, float]] = []
                while queue or running:
                    while queue and len(running) < parallel:
                        job = queue.pop(0)
                        if job.out is not None and job.out.exists():
                            outcomes.append(Outcome(job, 0, 0.0, "skipped"))
                            bar.advance(task)
                            continue
                        proc = _start(job, logs, gpu=len(live) % gpus if gpus > 1 else None)
                        live.append(proc)
                        running.append((job, proc, time.perf_counter()))
                    time.sleep(0.2)
                    for item in list(running):
                        job, proc, t0 = item
                        if proc.poll() is None:
                            continue
                        running.remove(item)
                        status = "done" if proc.returncode == 0 else "failed"
                        seconds = time.perf_counter() - t0
                        outcomes.append(Outcome(job, proc.returncode, seconds, status))
                        bar.update(task, advance=1, status=f"{job.name}: {status}")
    finally:  # Ctrl-C or an error here: no run goes on without the sweep that watches it
        for proc in live:
            if proc.poll() is None:
                proc.terminate()
    return outcomes


def _start(job: Job, logs: Path, gpu: int | None) -> subprocess.Popen:
    """One job as `python -m genrec ...`, its output into its log; a train run cut off by an
    earlier sweep resumes from its state file; `gpu`: the one GPU it sees."""
    args = list(job.args)
    if job.stage == 2 and Path(f"{job.out}.state.pt").exists():
        args.append("--resume")
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    with open(logs / f"{job.name}.log", "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "genrec", *args], stdout=log, stderr=subprocess.STDOUT, env=env
        )
