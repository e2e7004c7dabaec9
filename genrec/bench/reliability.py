"""`genrec bench-reliability`: faults caused for real on the local stack while steady traffic
(recommendations and acknowledged events) runs, each bounded in time and requests:

- `triton_kill`: SIGKILL tritonserver, restart it after a pause;
- `triton_stall`: SIGSTOP tritonserver (a decoder that stops answering), SIGCONT after a pause;
- `redis_restart`: SIGKILL redis-server, restart it on its append-only file;
- `flood`: a second client (another loopback address) sends as fast as it can;
- `malformed`: malformed, oversized and schema-violating bodies;

then Schemathesis over the OpenAPI schema. Per fault: status counts of the steady traffic,
unexpected 5xx (only 503 with Retry-After is expected), the worst latency, events acknowledged
and lost (an acknowledged event whose id Redis no longer holds), and the seconds from the end of
the fault to the first page from the model again.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from genrec.bench.report import markdown_table
from genrec.local_stack import Stack

REC = "/v1/recommendations"


@dataclass
class Traffic:
    """Steady load: `rate` requests/s, one in five an event; what came back, and when."""

    url: str
    users: list[str]
    items: list[str]
    api_key: str
    rate: float = 20.0
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    model_pages: list[float] = field(default_factory=list)  # times of non-fallback pages
    unexpected_5xx: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        import aiohttp

        async with aiohttp.ClientSession(self.url, timeout=aiohttp.ClientTimeout(total=5)) as s:
            tasks, n = [], 0
            while not stop.is_set():
                tasks.append(asyncio.create_task(self._one(s, n)))
                n += 1
                await asyncio.sleep(1 / self.rate)
            await asyncio.gather(*tasks)

    async def _one(self, session, n: int) -> None:
        import aiohttp

        user = self.users[n % len(self.users)]
        start = time.perf_counter()
        try:
            if n % 5 == 4:
                event_id = uuid.uuid4().hex
                body = {"event_id": event_id, "user_id": user,
                        "item_id": self.items[n % len(self.items)], "type": "click"}  # fmt: skip
                headers = {"X-API-Key": self.api_key}
                async with session.post("/v1/events", json=body, headers=headers) as r:
                    status, retry = r.status, r.headers.get("retry-after")
                    if status == 200:
                        self.acked.append(event_id)
            else:
                async with session.post(REC, json={"user_id": user}) as r:
                    status, retry = r.status, r.headers.get("retry-after")
                    if status == 200 and not (await r.json())["fallback"]:
                        self.model_pages.append(time.monotonic())
        except (aiohttp.ClientError, TimeoutError):
            status, retry = 599, None
        self.latencies_ms.append((time.perf_counter() - start) * 1000)
        self.statuses[status] += 1
        if status >= 500 and not (status == 503 and retry):
            self.unexpected_5xx += 1


def _lost(stack: Stack, acked: list[str]) -> int:
    redis = Redis.from_url(stack.redis_url)
    pipe = redis.pipeline()
    for event_id in acked:
        pipe.exists(f"genrec:event:{event_id}")
    return sum(1 for found in pipe.execute() if not found)


async def _flood(url: str, seconds: float) -> Counter:
    """As fast as 64 connections from 127.0.0.2 allow: another client to the rate limiter."""
    import aiohttp

    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=64)
    statuses: Counter = Counter()
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession(url, connector=connector) as s:

        async def worker() -> None:
            while time.monotonic() < end:
                async with s.post(REC, json={"user_id": "flooder"}) as r:
                    statuses[r.status] += 1

        await asyncio.gather(*(worker() for _ in range(64)))
    return statuses


BAD_BODIES = [
    (REC, b"{not json"),
    (REC, b'{"user_id": "u", "page_size": 0}'),
    (REC, b'{"user_id": "u", "page_token": "' + b"x" * 300 + b'"}'),
    (REC, b'{"user_id": "' + b"u" * 20_000 + b'"}'),
    ("/v1/events", b'{"event_id": 1}'),
    ("/v1/events", b"\xff\xfe\x00"),
    ("/v1/events", b"[" * 5000),
]


async def _malformed(url: str, api_key: str, rounds: int) -> Counter:
    import aiohttp

    statuses: Counter = Counter()
    headers = {"content-type": "application/json", "X-API-Key": api_key}
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))  # a client of its own
    async with aiohttp.ClientSession(url, connector=connector) as s:
        for _ in range(rounds):
            for path, body in BAD_BODIES:
                await asyncio.sleep(0.025)  # 40 req/s: under the rate limit, to reach the app
                async with s.post(path, data=body, headers=headers) as r:
                    statuses[r.status] += 1
                    text = await r.text()
                    if "Traceback" in text or "127.0.0.1" in text:
                        statuses["leaky"] += 1
    return statuses


async def _run_fault(stack: Stack, traffic: Traffic, fault: str, pause_s: float) -> dict:
    stop = asyncio.Event()
    load = asyncio.create_task(traffic.run(stop))
    await asyncio.sleep(2.0)  # steady state first
    extra: dict = {}
    if fault == "triton_kill":
        await asyncio.to_thread(stack.triton.kill)
        await asyncio.sleep(pause_s)
        await asyncio.to_thread(stack.triton.start)
    elif fault == "triton_stall":
        os.kill(stack.triton.process.pid, signal.SIGSTOP)
        await asyncio.sleep(pause_s)
        os.kill(stack.triton.process.pid, signal.SIGCONT)
    elif fault == "redis_restart":
        await asyncio.to_thread(stack.redis.kill)
        await asyncio.sleep(pause_s)
        await asyncio.to_thread(stack.redis.start)
    elif fault == "flood":
        extra["probe_status_counts"] = dict(await _flood(stack.url, pause_s))
    elif fault == "malformed":
        extra["probe_status_counts"] = dict(await _malformed(stack.url, traffic.api_key, 40))
    fault_end = time.monotonic()
    deadline = fault_end + 30
    while time.monotonic() < deadline and not any(t > fault_end for t in traffic.model_pages):
        await asyncio.sleep(0.05)
    recovered = [t for t in traffic.model_pages if t > fault_end]
    await asyncio.sleep(1.0)
    stop.set()
    await load
    return {
        "fault": fault,
        "requests": sum(traffic.statuses.values()),
        "status_counts": {str(k): v for k, v in sorted(traffic.statuses.items())},
        "unexpected_5xx": traffic.unexpected_5xx,
        "max_latency_ms": round(max(traffic.latencies_ms), 1),
        "events_acked": len(traffic.acked),
        "events_lost": _lost(stack, traffic.acked),
        "recovery_seconds": round(recovered[0] - fault_end, 2) if recovered else None,
        **extra,
    }


FAULTS = ("triton_kill", "triton_stall", "redis_restart", "flood", "malformed")


def run_faults(stack: Stack, users: list[str], items: list[str], api_key: str) -> list[dict]:
    rows = []
    for fault in FAULTS:
        traffic = Traffic(stack.url, users, items, api_key)
        rows.append(asyncio.run(_run_fault(stack, traffic, fault, pause_s=4.0)))
    return rows


def run_schemathesis(url: str, api_key: str, max_examples: int = 250, rate: str = "40/s") -> dict:
    """Schemathesis with every check, paced under the gateway's per-client rate limit."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
        "--checks", "all", "--max-examples", str(max_examples), "--seed", "0", "--no-color",
        "--rate-limit", rate, "--header", f"X-API-Key: {api_key}",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    found = re.search(
        r"(\d+) generated, (?:(\d+) passed|\d+ found (\d+) unique failures)", run.stdout
    )
    return {
        "schemathesis_cases": int(found[1]) if found else 0,
        "schemathesis_failures": (0 if found[2] else int(found[3])) if found else None,
        "schemathesis_exit_code": run.returncode,
    }


COLUMNS = (
    "fault", "requests", "status_counts", "unexpected_5xx", "max_latency_ms", "events_acked",
    "events_lost", "recovery_seconds", "probe_status_counts",
)  # fmt: skip


def write_report(rows: list[dict], schemathesis: dict, meta: dict, path: Path) -> str:
    """The whole run: JSON (`rows`, the Schemathesis figures, command, hardware) + Markdown."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows, **schemathesis, **meta}, indent=2) + "\n")
    text = (
        "# Reliability under faults\n\n"
        f"Generated from `{path.name}` by `{meta['command']}` on {meta['hardware']}. Steady "
        "traffic of 20 req/s (one in five an acknowledged event) runs through each fault; "
        "`unexpected_5xx` counts 5xx other than 503 with Retry-After; `events_lost` counts "
        "acknowledged events whose id Redis no longer holds; `recovery_seconds` runs from the "
        "end of the fault to the first page from the model again; `probe_status_counts`: what "
        "the flooding client (another address) or the malformed bodies got.\n\n"
        + markdown_table(rows, COLUMNS)
        + f"\nSchemathesis (every check, OpenAPI schema of the gateway): "
        f"{schemathesis['schemathesis_cases']} generated cases, "
        f"{schemathesis['schemathesis_failures']} failures.\n"
    )
    path.with_suffix(".md").write_text(text)
    return text
