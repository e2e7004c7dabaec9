"""`genrec loadtest`: Locust (loadtest/locustfile.py) headless against the local stack, bounded
in time, on loopback; its CSV statistics become `reports/loadtest.json` (+ `.md`, + a PNG of
latency percentiles and throughput over time)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from genrec.bench.report import markdown_table, pyplot, save_figure, write_merged
from genrec.bench.serve import REC

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"
COLUMNS = (
    "setting", "scenario", "users", "burst", "requests", "rps", "p50_ms", "p95_ms", "p99_ms",
    "error_rate", "gateway_rec_p99_ms", "triton_p99_ms", "redis_p99_ms", "gateway_cpu_ms",
    "triton_cpu_ms", "redis_cpu_ms", "locust_cpu_ms", "slo_p99_ms", "slo_pass", "hardware",
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    users: int = 15  # steady users; the burst triples them
    spawn_rate: float = 5.0
    seconds: int = 60
    p99_ms: float = 150.0
    error_rate: float = 0.0
    api_key: str | None = None  # sent on writes when the gateway requires one
    processes: int = 1  # Locust load processes: one gevent loop tops out near 1-2k req/s
    burst: float = 3.0  # users multiplier for the middle fifth of the run (1 = steady load)


def run_locust(url: str, catalog: Path, run: Run, prefix: Path) -> int:
    """→ Locust's exit code (1 when a request failed or an SLO broke)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    env = (
        os.environ
        | {
            "GENREC_LOADTEST_CATALOG": str(catalog),
            "GENREC_SLO_P99_MS": str(run.p99_ms),
            "GENREC_SLO_ERROR_RATE": str(run.error_rate),
            "GENREC_LOADTEST_BURST": str(run.burst),
        }
        | ({"GENREC_API_KEY": run.api_key} if run.api_key else {})
    )
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", url, "-u", str(run.users), "-r", str(run.spawn_rate),
        "-t", f"{run.seconds}s", "--stop-timeout", "5", "--csv", str(prefix), "--csv-full-history",
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    if run.processes > 1:
        command += ["--processes", str(run.processes)]
    return subprocess.run(command, env=env, timeout=run.seconds + 120).returncode


def read_rows(prefix: Path, run: Run) -> list[dict]:
    """One row per request name (scenario step) and one for all requests together."""
    rows = []
    with open(f"{prefix}_stats.csv") as f:
        for r in csv.DictReader(f):
            count = int(r["Request Count"])
            if count == 0:
                continue
            p99 = float(r["99%"])
            errors = int(r["Failure Count"]) / count
            rows.append({
                "scenario": "all" if r["Name"] == "Aggregated" else r["Name"],
                "users": run.users,
                "burst": run.burst,
                "requests": count,
                "rps": round(float(r["Requests/s"]), 1),
                "p50_ms": float(r["50%"]),
                "p95_ms": float(r["95%"]),
                "p99_ms": p99,
                "error_rate": round(errors, 5),
                "slo_p99_ms": run.p99_ms,
                "slo_pass": p99 <= run.p99_ms and errors <= run.error_rate,
            })  # fmt: skip
    return rows


def histogram_quantile_ms(
    before: dict, after: dict, name: str, q: float = 0.99, **labels: str
) -> float:
    """The q-quantile (ms) of a gateway latency histogram between two scrapes of its metrics
    (bucket deltas over samples whose labels include `labels`, linear within a bucket)."""
    want = set(labels.items())
    cumulative: dict[float, float] = {}
    for key, value in after.items():
        if key[0] == f"{name}_bucket" and want <= set(key[1]):
            le = float(dict(key[1])["le"])  # summed over the other labels
            cumulative[le] = cumulative.get(le, 0.0) + value - before.get(key, 0.0)
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0.0
    if total == 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for le in bounds:
        if cumulative[le] >= rank:
            if le == float("inf"):
                return lower * 1e3  # past the last finite bucket: its bound is all we know
            return (lower + (le - lower) * (rank - below) / (cumulative[le] - below)) * 1e3
        lower, below = le, cumulative[le]
    return lower * 1e3


def server_p99s(before: dict, after: dict) -> dict[str, float]:
    """Server-side p99s beside Locust's client-side one: the gateway's for recommendations and
    its Triton calls'. Together they say whose tail it is: the load generator's, the gateway's
    or the decoder's."""
    return {
        "gateway_rec_p99_ms": histogram_quantile_ms(
            before, after, "genrec_http_request_duration_seconds", route=REC
        ),
        "triton_p99_ms": histogram_quantile_ms(
            before, after, "genrec_triton_request_duration_seconds"
        ),
        "redis_p99_ms": histogram_quantile_ms(before, after, "genrec_redis_duration_seconds"),
    }


def plot_history(prefix: Path, png: Path, title: str) -> None:
    """Aggregated p50/p95/p99 and requests/s over the run, from Locust's history CSV."""
    plt = pyplot()

    with open(f"{prefix}_stats_history.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated" and r["50%"] != "N/A"]
    t0 = int(rows[0]["Timestamp"])
    t = [int(r["Timestamp"]) - t0 for r in rows]
    fig, (lat, rps) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for q in ("50%", "95%", "99%"):
        lat.plot(t, [float(r[q]) for r in rows], label=f"p{q[:-1]}")
    lat.set(ylabel="latency ms", title=title)
    lat.legend()
    rps.plot(t, [float(r["Requests/s"]) for r in rows], color="tab:green", label="requests/s")
    rps.plot(t, [float(r["User Count"]) for r in rows], color="tab:gray", ls="--", label="users")
    rps.set(xlabel="seconds", ylabel="req/s, users")
    rps.legend()
    save_figure(fig, png)


def write_report(rows: list[dict], path: Path) -> str:
    header = (
        "# Load test (Locust, loadtest/locustfile.py)\n\n"
        f"Generated from `{path.name}`. Scenarios: browsing a chain page 1 → 2 → 3, an event "
        "then a fresh page, cold users; a burst multiplies the users by `burst` for the middle "
        "fifth of the run. `slo_pass`: p99 ≤ `slo_p99_ms` and no error beyond the allowed "
        "rate; `gateway_rec_p99_ms`: the gateway's own p99 for recommendations, `triton_p99_ms` "
        "and `redis_p99_ms` its Triton calls' and Redis round trips' (from its histograms); "
        "`*_cpu_ms`: CPU milliseconds per request (all requests) used by the gateway workers, "
        "Triton with its Python backend, Redis and Locust. Each row names its command and "
        "hardware.\n\n"
    )
    merged = write_merged(path, rows, ("setting", "scenario", "users"), header, COLUMNS)
    return markdown_table(merged, COLUMNS)


def plot_knee(rows: list[dict], png: Path, title: str) -> None:
    """All requests' p50/p95/p99 and throughput against the offered users of a sweep: where
    latency turns up is the knee."""
    plt = pyplot()

    sel = sorted((r for r in rows if r["scenario"] == "all"), key=lambda r: r["users"])
    users = [r["users"] for r in sel]
    fig, (lat, rps) = plt.subplots(1, 2, figsize=(10, 3.6))
    for q in ("p50_ms", "p95_ms", "p99_ms"):
        lat.plot(users, [r[q] for r in sel], marker="o", label=q[:3])
    lat.axhline(sel[0]["slo_p99_ms"], color="tab:red", ls=":", label="p99 SLO")
    lat.set(xlabel="steady Locust users", ylabel="latency ms", yscale="log")
    lat.legend()
    rps.plot(users, [r["rps"] for r in sel], marker="o", color="tab:green")
    rps.set(xlabel="steady Locust users", ylabel="requests / s")
    fig.suptitle(title)
    save_figure(fig, png)


def write_catalog(users: list[str], items: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"users": users, "items": items}))
    return path
