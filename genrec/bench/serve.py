"""`genrec bench-serve`: end-to-end latency and throughput of the running stack over HTTP.

Load comes from client processes on the same machine (asyncio + aiohttp each): open loop at a
fixed rate (latency at a given load, arrivals do not wait for answers) or closed loop with a
fixed concurrency (the most the stack serves). Requests start new chains for random known users,
and a share continue a chain to its next page. The time split comes from the gateway's and
Triton's own Prometheus counters, read before and after the run.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import resource
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from genrec.bench.report import markdown_table, pyplot, save_figure, write_merged
from genrec.local_stack import Stack

REC = "/v1/recommendations"


@dataclass(frozen=True)
class Load:
    duration_s: float = 30.0
    rate: float | None = 20.0  # requests/s over all clients (open loop); None = closed loop
    concurrency: int = 64  # requests in flight over all clients (closed loop)
    clients: int = 1  # load-generating processes
    page_size: int = 10
    next_page_share: float = 0.2  # requests that continue an earlier chain
    warmup_s: float = 3.0  # sent first, not measured
    seed: int = 0


@dataclass
class LoadResult:
    latencies_ms: np.ndarray
    statuses: Counter
    fallbacks: int
    seconds: float
    sent: int  # warm-up included: what the CPU counters saw

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


async def _client(url: str, users: list[str], load: Load, share: int, index: int, queue):
    """One load process: aiohttp (several times httpx's rate per core), results to `queue`."""
    import aiohttp

    rng = random.Random(load.seed * 1000 + index)
    latencies, statuses, fallbacks, tokens, sent = [], Counter(), 0, [], 0
    connector = aiohttp.TCPConnector(limit=max(1, load.concurrency // share))
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def one(measured: bool) -> None:
            nonlocal fallbacks, sent
            sent += 1
            body = {"user_id": rng.choice(users), "page_size": load.page_size}
            if tokens and rng.random() < load.next_page_share:
                user, token = tokens.pop(rng.randrange(len(tokens)))
                body = {"user_id": user, "page_size": load.page_size, "page_token": token}
            start = time.perf_counter()
            page = None
            try:
                async with session.post(REC, json=body) as r:
                    status = r.status
                    if status == 200:
                        page = await r.json()
            except (aiohttp.ClientError, TimeoutError):
                status = 599  # no answer: counted as an error
            elapsed = (time.perf_counter() - start) * 1000
            if page is not None:
                fallbacks += measured and page["fallback"]
                if page["next_page_token"] and len(tokens) < 1000:
                    tokens.append((body["user_id"], page["next_page_token"]))
            if measured:
                latencies.append(elapsed)
                statuses[status] += 1

        start = time.perf_counter()
        measure_from = start + load.warmup_s
        end = measure_from + load.duration_s
        if load.rate is not None:  # open loop: a new request every 1/rate s, answered or not
            interval = share / load.rate
            tasks, i = [], 0
            while (t := start + i * interval) < end:
                await asyncio.sleep(max(0.0, t - time.perf_counter()))
                tasks.append(asyncio.create_task(one(t >= measure_from)))
                i += 1
            await asyncio.gather(*tasks)
        else:  # closed loop: `concurrency / clients` requests always in flight

            async def worker() -> None:
                while (now := time.perf_counter()) < end:
                    await one(now >= measure_from)

            await asyncio.gather(*(worker() for _ in range(max(1, load.concurrency // share))))
    queue.put((latencies, statuses, fallbacks, sent))


def _process(url: str, users: list[str], load: Load, index: int, queue) -> None:
    asyncio.run(_client(url, users, load, load.clients, index, queue))


def run_load(url: str, users: list[str], load: Load) -> LoadResult:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process, args=(url, users, load, i, queue)) for i in range(load.clients)
    ]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = np.array([x for lat, *_ in parts for x in lat], dtype=np.float64)
    statuses = sum((s for _, s, _, _ in parts), Counter())
    fallbacks, sent = sum(p[2] for p in parts), sum(p[3] for p in parts)
    return LoadResult(latencies, statuses, fallbacks, load.duration_s, sent)


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text → {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape_all(urls: list[str]) -> dict[tuple[str, tuple], float]:
    """Several servers' samples summed, as if one server had done all their work."""
    total: dict[tuple[str, tuple], float] = {}
    for url in urls:
        for key, value in scrape(url).items():
            total[key] = total.get(key, 0.0) + value
    return total


def _delta(after: dict, before: dict, name: str, **labels: str) -> float:
    """Sum over samples of `name` whose labels include `labels`, after minus before."""
    want = set(labels.items())
    return sum(
        v - before.get(k, 0.0) for k, v in after.items() if k[0] == name and want <= set(k[1])
    )


def time_split(gw: tuple[dict, dict], triton: tuple[dict, dict]) -> dict[str, float]:
    """Mean milliseconds per recommendation request in each stage."""
    (g0, g1), (t0, t1) = gw, triton
    route = {"route": REC}
    n = max(1.0, _delta(g1, g0, "genrec_http_request_duration_seconds_count", **route))
    calls = max(1.0, _delta(g1, g0, "genrec_triton_request_duration_seconds_count"))  # pages
    done = max(1.0, _delta(t1, t0, "nv_inference_request_success_total", model="genrec"))
    execs = max(1.0, _delta(t1, t0, "nv_inference_exec_count_total", model="genrec"))
    total = _delta(g1, g0, "genrec_http_request_duration_seconds_sum", **route) / n * 1e3
    redis = _delta(g1, g0, "genrec_redis_duration_seconds_sum") / n * 1e3
    triton_call = _delta(g1, g0, "genrec_triton_request_duration_seconds_sum") / calls * 1e3

    def triton_ms(counter: str) -> float:  # Triton's µs totals, per successful request
        return _delta(t1, t0, counter, model="genrec") / done / 1e3

    def stage_ms(stage: str) -> float:  # per Triton request, like Triton's own figures
        name = "genrec_decoder_stage_seconds"
        count = max(1.0, _delta(g1, g0, f"{name}_count", stage=stage))
        return _delta(g1, g0, f"{name}_sum", stage=stage) / count * 1e3

    server = triton_ms("nv_inference_request_duration_us_total")
    queue = triton_ms("nv_inference_queue_duration_us_total")
    # Triton's three compute phases: inputs handed to the Python backend's stub process, the
    # model's `execute`, its outputs handed back (each request counts its batch's time).
    given, execute, returned = (
        triton_ms(f"nv_inference_compute_{phase}_duration_us_total")
        for phase in ("input", "infer", "output")
    )
    prompt, decode = stage_ms("prompt"), stage_ms("decode")
    return {
        "gateway_total_ms": total,
        "redis_ms": redis,
        "triton_call_ms": triton_call,
        "triton_server_ms": server,
        "triton_queue_ms": queue,
        "prompt_merger_ms": prompt,
        "decode_ms": decode,
        "gateway_other_ms": total - redis - triton_call * calls / n,
        # Triton's time for a request that is neither waiting in its queue nor the model's two
        # stages: request and response handling in tritonserver and the Python backend.
        "triton_overhead_ms": server - queue - prompt - decode,
        # ... of which: tensors in and out of the stub, and model.py's own Python around the
        # two stages (parsing rows, packing responses).
        "triton_input_ms": given,
        "triton_output_ms": returned,
        "model_py_ms": execute - prompt - decode,
        "triton_calls_per_request": calls / n,
        "pages_per_triton_request": calls / done,  # the gateway's batching
        "mean_batch": calls / execs,  # pages per model execution
    }


def cpu_seconds(stack: Stack, load: str = "loadgen") -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) used so far by each part of the stack, per process of its
    tree (gateway workers, Triton's Python backend stubs), and, as `load`, by the load
    generators that finished (this process's waited-for children: bench-serve's client
    processes, Locust; pid 0)."""
    import psutil

    def tree(process) -> dict[int, float]:
        root = psutil.Process(process.pid)
        seconds = {}
        for p in (root, *root.children(recursive=True)):
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds[p.pid] = t.user + t.system
        return seconds

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "gateway": tree(stack.gateway.process),
        "triton": {pid: t for triton in stack.tritons for pid, t in tree(triton.process).items()},
        "redis": tree(stack.redis.process) | tree(stack.cache_redis.process),
        load: {0: children.ru_utime + children.ru_stime},
    }


def cpu_ms_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Each part's CPU milliseconds per request of a run: what bounds throughput on one box.
    Per process, so a process that starts in between (a worker restarted, a stub) adds what
    it used since, and one that ends counts for nothing after its last reading: no part's
    figure goes negative because its process tree changed."""
    return {
        f"{part}_cpu_ms": round(
            1e3 * sum(t - before[part].get(pid, 0.0) for pid, t in after[part].items())
            / max(requests, 1), 3,
        )
        for part in before
    }  # fmt: skip


def measure_point(stack: Stack, users: list[str], load: Load) -> dict:
    """Run `load` against the stack's gateway → its mode and offered load, latency summary,
    the mean time split per request (from both sides' Prometheus counters around the run) and
    each part's CPU milliseconds per request (load generator included: on one box it shares
    the cores)."""
    metrics, tritons = stack.metrics_url, stack.triton_metrics_urls
    before, cpu_before = (scrape(metrics), scrape_all(tritons)), cpu_seconds(stack)
    result = run_load(stack.url, users, load)
    after, cpu_after = (scrape(metrics), scrape_all(tritons)), cpu_seconds(stack)
    split = time_split((before[0], after[0]), (before[1], after[1]))
    return {
        "mode": "open" if load.rate is not None else "closed",
        "offered": load.rate if load.rate is not None else load.concurrency,
        **summarize(result),
        **{k: round(v, 2) for k, v in split.items()},
        **cpu_ms_per_request(cpu_before, cpu_after, result.sent),
    }


def summarize(result: LoadResult) -> dict:
    lat = result.latencies_ms if len(result.latencies_ms) else np.zeros(1)
    ok = result.statuses.get(200, 0)
    p50, p95, p99 = (float(q) for q in np.percentile(lat, [50, 95, 99]))
    return {
        "requests": result.requests,
        "ok": ok,
        "errors": result.requests - ok,
        # Which errors (599: no answer): a 429 is a limit, a 503 an unready stack, a 5xx a bug.
        "error_statuses": {str(c): n for c, n in sorted(result.statuses.items()) if c != 200},
        "fallbacks": result.fallbacks,
        "rps": round(ok / result.seconds, 1),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": float(lat.max()),
        # Stalls: a response far slower than the rest (reports/README.md, "Stalls").
        "over_100ms": int((lat > 100).sum()),
        "p99_over_p50": round(p99 / p50, 2) if p50 else None,
    }


COLUMNS = (
    "setting", "model", "gateway_workers", "triton_instances", "triton_config", "mode", "offered",
    "requests",
    "errors", "fallbacks",
    "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "over_100ms", "p99_over_p50",
    "gateway_total_ms", "redis_ms", "triton_call_ms",
    "triton_server_ms", "triton_queue_ms", "prompt_merger_ms", "decode_ms", "triton_overhead_ms",
    "triton_input_ms", "triton_output_ms", "model_py_ms",
    "gateway_other_ms", "pages_per_triton_request", "mean_batch",
    "gateway_cpu_ms", "triton_cpu_ms", "redis_cpu_ms", "loadgen_cpu_ms", "hardware",
)  # fmt: skip


def write_report(rows: list[dict], path: Path) -> str:
    """Merge rows into the JSON report (keyed by setting, workers, Triton instances and config
    overrides when set, mode and offered load) and rewrite its Markdown twin; → the Markdown."""
    header = (
        "# Serving benchmark (HTTP → gateway → Redis + Triton → decoder)\n\n"
        f"Generated from `{path.name}`. `offered` = req/s (open loop) or requests in flight "
        "(closed loop); latencies are end to end at the client; the `_ms` split is the mean per "
        "request from the gateway's and Triton's Prometheus counters (`triton_server_ms` is "
        "Triton's own time for a request, inside `triton_call_ms`; `triton_queue_ms`, "
        "`prompt_merger_ms` and `decode_ms` lie inside it; `gateway_other_ms` = "
        "validation, page-chain logic, id mapping, JSON). Each row names its command.\n\n"
    )
    key = ("setting", "gateway_workers", "triton_instances", "triton_config", "mode", "offered")
    return markdown_table(write_merged(path, rows, key, header, COLUMNS), COLUMNS)


def within_slo(row: dict, slo_p99_ms: float) -> bool:
    return row["p99_ms"] <= slo_p99_ms and row["errors"] == 0


def search_levels(
    within: Callable[[int], bool], start: int, refine: int, top: int = 4096
) -> list[int]:
    """Closed-loop levels that find where p99 crosses its bound without a grid: `within(c)`
    measures c requests in flight; double c from `start` while it holds (up to `top`), then
    bisect `refine` times between the last level within and the first past → levels measured.
    A fixed grid's gaps decide the figure (a sweep that jumps from 256 to 384 in flight reports
    256's rate); this measures the crossing to a quarter of the last gap with two bisections."""
    levels, good, bad, c = [], 0, None, max(1, start)
    while c <= top:
        levels.append(c)
        if not within(c):
            bad = c
            break
        good, c = c, c * 2
    for _ in range(refine if bad is not None else 0):
        mid = (good + bad) // 2
        if mid in (0, good, bad):
            break
        levels.append(mid)
        good, bad = (mid, bad) if within(mid) else (good, mid)
    return levels


SCALING_COLUMNS = (
    "setting", "gpus", "gateway_workers", "slo_p99_ms", "rps_at_slo", "speedup", "points",
    "hardware",
)  # fmt: skip


def write_scaling_report(rows: list[dict], setting: str, slo_p99_ms: float, path: Path) -> str:
    """Serving scale-out (`reports/serving_scaling.json`) of the sweep labelled `setting`: per
    GPU count, the most req/s any measured point served with p99 within the SLO, and its ratio
    to 1 GPU's."""
    best: dict[int, dict] = {}
    for r in rows:
        n = r["gpus"]
        entry = best.setdefault(n, {"rps_at_slo": 0.0, "points": 0, "row": r})
        entry["points"] += 1
        if within_slo(r, slo_p99_ms) and r["rps"] > entry["rps_at_slo"]:
            entry.update(rps_at_slo=r["rps"], row=r)
    one = best.get(1, {}).get("rps_at_slo")
    summary = [
        {
            "setting": setting,
            "gpus": n,
            "gateway_workers": e["row"]["gateway_workers"],
            "slo_p99_ms": slo_p99_ms,
            "rps_at_slo": e["rps_at_slo"],
            "speedup": round(e["rps_at_slo"] / one, 3) if one else None,
            "points": e["points"],
            "hardware": e["row"]["hardware"],
            "command": e["row"]["command"],
        }
        for n, e in sorted(best.items())
    ]
    header = (
        "# Serving scale-out (gateway → Triton with its instances on 1..N GPUs)\n\n"
        f"Generated from `{path.name}` by `genrec bench-serve --gpus N ...`: `rps_at_slo` is "
        "the most req/s any measured point served with p99 ≤ `slo_p99_ms` and no errors "
        "(`points` = points measured; their rows are in `serving_bench.md`); `speedup` is "
        "over 1 GPU's in the same run.\n\n"
    )
    merged = write_merged(path, summary, ("setting", "gpus"), header, SCALING_COLUMNS)
    plot_latency_throughput(rows, slo_p99_ms, path.parent / f"{path.stem}.png")
    return markdown_table(merged, SCALING_COLUMNS)


def plot_latency_throughput(rows: list[dict], slo_p99_ms: float, png: Path) -> None:
    """p99 against req/s of the closed-loop points, one line per GPU count, under the SLO
    line: where each line crosses it is that count's `rps_at_slo`."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    for n in sorted({r["gpus"] for r in rows}):
        sel = sorted(
            (r for r in rows if r["gpus"] == n and r["mode"] == "closed"), key=lambda r: r["rps"]
        )
        ax.plot(
            [r["rps"] for r in sel], [r["p99_ms"] for r in sel], marker="o", label=f"{n} GPU(s)"
        )
    ax.axhline(slo_p99_ms, color="gray", ls=":", label=f"p99 SLO {slo_p99_ms:g} ms")
    ax.set(
        xlabel="req/s (closed loop)",
        ylabel="p99 latency (ms)",
        title="Serving scale-out through the gateway",
    )
    ax.legend(fontsize=8)
    save_figure(fig, png)
