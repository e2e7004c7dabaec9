"""`genrec bench-reliability`: faults caused for real on the local stack while steady traffic
(recommendations and acknowledged events) runs, each bounded in time and requests:

- `triton_kill`: SIGKILL tritonserver, restart it after a pause;
- `triton_stall`: SIGSTOP tritonserver (a decoder that stops answering), SIGCONT after a pause;
- `redis_restart`: SIGKILL redis-server, restart it on its append-only file;
- `flood`: a second client (another loopback address) sends as fast as it can;
- `malformed`: malformed, oversized and schema-violating bodies;

then the promises the gateway makes about its state, each checked under its own fault:

- `redis_kill_posting`: SIGKILL redis-server *while* one client posts events back to back (each
  for a user of its own): every acknowledged id, and its item in that user's history, is there
  after Redis restarts from its append-only file;
- `readyz_triton_stop`: tritonserver stopped: `/readyz` answers within a second and stays ready
  while popularity pages are served;
- `full_restart`: every server stopped and started again as `genrec serve` does (the dataset's
  histories loaded again): no acknowledged event lost, and a retry of each is a duplicate whose
  item is in the history (no false duplicate);
- `rollout`: a version with a renamed catalogue exported while pages are served: 0 errors, and
  no page decoded by one version and named through the other's catalogue;
- `tokenizer_determinism`: `genrec tokenize` twice on the embedded default, byte for byte.

Then Schemathesis over the OpenAPI schema. Per fault: status counts of the steady traffic,
unexpected 5xx (only 503 with Retry-After is expected), the worst latency, events acknowledged
and lost (an acknowledged event whose id Redis no longer holds), the seconds from the end of
the fault to the first page from the model again, and whether the row passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
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
from genrec.contract import STORE_FILES, VERSION_FILES
from genrec.local_stack import Stack, latest_export, load_histories
from service.history import event_key, history_key

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
        pipe.exists(event_key(event_id))
    return sum(1 for found in pipe.execute() if not found)


@dataclass
class Poster:
    """Events posted back to back by one client (a loopback address of its own, paced under
    the rate limit), each for a user of its own, so each acknowledged one's history is known."""

    url: str
    api_key: str
    items: list[str]
    prefix: str
    address: str = "127.0.0.4"
    interval_s: float = 0.03
    acked: list[dict] = field(default_factory=list)  # the bodies of acknowledged events
    statuses: Counter = field(default_factory=Counter)
    unexpected_5xx: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(local_addr=(self.address, 0))
        timeout = aiohttp.ClientTimeout(total=5)
        headers = {"X-API-Key": self.api_key}
        async with aiohttp.ClientSession(self.url, connector=connector, timeout=timeout) as s:
            n = 0
            while not stop.is_set():
                body = {"event_id": f"{self.prefix}-{n}", "user_id": f"{self.prefix}-user-{n}",
                        "item_id": self.items[n % len(self.items)], "type": "click"}  # fmt: skip
                try:
                    async with s.post("/v1/events", json=body, headers=headers) as r:
                        status, retry = r.status, r.headers.get("retry-after")
                except (aiohttp.ClientError, TimeoutError):
                    status, retry = 599, None
                if status == 200:
                    self.acked.append(body)
                self.statuses[status] += 1
                if status >= 500 and not (status == 503 and retry):
                    self.unexpected_5xx += 1
                n += 1
                await asyncio.sleep(self.interval_s)

    def check(self, stack: Stack) -> dict:
        """Acknowledged events whose id is gone, and whose item is not in their user's
        history: the "duplicate means in the history" promise, read from Redis itself."""
        redis = Redis.from_url(stack.redis_url)
        pipe = redis.pipeline()
        for body in self.acked:
            pipe.exists(event_key(body["event_id"]))
            pipe.lrange(history_key(body["user_id"]), 0, -1)
        found = pipe.execute()
        ids, histories = found[0::2], found[1::2]
        missing = sum(
            body["item_id"].encode() not in history
            for body, history in zip(self.acked, histories, strict=True)
        )
        return {"events_acked": len(self.acked), "events_lost": sum(not e for e in ids),
                "history_missing": missing}  # fmt: skip

    async def retry_all(self) -> int:
        """Each acknowledged event posted again: → how many were not answered as a duplicate
        that is in the history (a false duplicate, or a forgotten event)."""
        import aiohttp

        connector = aiohttp.TCPConnector(local_addr=(self.address, 0))
        headers = {"X-API-Key": self.api_key}
        false = 0
        async with aiohttp.ClientSession(self.url, connector=connector) as s:
            for body in self.acked:
                async with s.post("/v1/events", json=body, headers=headers) as r:
                    answer = await r.json() if r.status == 200 else {}
                false += not (answer.get("duplicate") and answer.get("in_history"))
                await asyncio.sleep(self.interval_s)
        return false


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
    return _traffic_row(fault, traffic) | {
        "events_acked": len(traffic.acked),
        "events_lost": _lost(stack, traffic.acked),
        "recovery_seconds": round(recovered[0] - fault_end, 2) if recovered else None,
        **extra,
    }


async def _redis_kill_posting(stack: Stack, traffic: Traffic, pause_s: float) -> dict:
    poster = Poster(stack.url, traffic.api_key, traffic.items, f"kill-{uuid.uuid4().hex[:6]}")
    stop = asyncio.Event()
    running = [asyncio.create_task(traffic.run(stop)), asyncio.create_task(poster.run(stop))]
    await asyncio.sleep(1.5)  # events flowing
    await asyncio.to_thread(stack.redis.kill)  # no shutdown save: only the AOF survives
    await asyncio.sleep(pause_s)
    await asyncio.to_thread(stack.redis.start)
    await asyncio.sleep(1.5)  # and flowing again
    stop.set()
    await asyncio.gather(*running)
    return _traffic_row("redis_kill_posting", traffic) | _posted(stack, traffic, poster)


def _posted(stack: Stack, traffic: Traffic, poster: Poster) -> dict:
    """The poster's events beside the steady traffic's: acknowledged, lost, not in history."""
    row = poster.check(stack)
    return row | {
        "events_acked": row["events_acked"] + len(traffic.acked),
        "events_lost": row["events_lost"] + _lost(stack, traffic.acked),
        "unexpected_5xx": traffic.unexpected_5xx + poster.unexpected_5xx,
    }


async def _readyz_triton_stop(stack: Stack, traffic: Traffic, pause_s: float) -> dict:
    """A prober of its own polls `/readyz` every 100 ms through a Triton stop."""
    import aiohttp

    stop, probes = asyncio.Event(), []

    async def probe() -> None:
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.5", 0))
        async with aiohttp.ClientSession(stack.url, connector=connector) as s:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    async with s.get("/readyz", timeout=aiohttp.ClientTimeout(total=5)) as r:
                        ready = r.status == 200 and (await r.json())["ready"]
                except (aiohttp.ClientError, TimeoutError):
                    ready = False
                probes.append(((time.perf_counter() - start) * 1000, ready))
                await asyncio.sleep(0.1)

    running = [asyncio.create_task(traffic.run(stop)), asyncio.create_task(probe())]
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.triton.stop)
    await asyncio.sleep(pause_s)
    await asyncio.to_thread(stack.triton.start)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*running)
    return _traffic_row("readyz_triton_stop", traffic) | {
        "readyz_checks": len(probes),
        "readyz_max_ms": round(max(ms for ms, _ in probes), 1),
        "readyz_not_ready": sum(not ready for _, ready in probes),
    }


async def _full_restart(stack: Stack, api_key: str, items: list[str]) -> dict:
    """Events, then every server stopped and started as `genrec serve` starts them."""
    poster = Poster(stack.url, api_key, items, f"restart-{uuid.uuid4().hex[:6]}")
    stop = asyncio.Event()
    posting = asyncio.create_task(poster.run(stop))
    await asyncio.sleep(3.0)
    stop.set()
    await posting
    histories = stack.workdir / "histories.jsonl"  # what `running_stack` loaded at the start
    await asyncio.to_thread(stack.stop)
    await asyncio.to_thread(stack.start, lambda s: load_histories(s, histories))
    row = poster.check(stack)
    return {"fault": "full_restart", "requests": sum(poster.statuses.values()),
            "status_counts": _counts(poster.statuses),
            "unexpected_5xx": poster.unexpected_5xx, **row,
            "false_duplicates": await poster.retry_all()}  # fmt: skip


def renamed_version(model_dir: Path, source: str, target: str, prefix: str) -> None:
    """Version `target`: `source` with every item id prefixed (`v2:` + id), its store manifest
    kept true to the files (the model checks their sha256), renamed into place whole, so a
    page decoded by one version and named through the other's catalogue shows at once."""
    staging = model_dir / f".{target}-staging"
    shutil.copytree(model_dir / source, staging, ignore=shutil.ignore_patterns("__pycache__"))
    store = staging / VERSION_FILES.tokenizer_store
    items = store / STORE_FILES.items
    items.write_text(json.dumps([f"{prefix}{i}" for i in json.loads(items.read_text())]))
    manifest = json.loads((store / STORE_FILES.manifest).read_text())
    manifest["files"][STORE_FILES.items] = {
        "bytes": items.stat().st_size,
        "sha256": hashlib.sha256(items.read_bytes()).hexdigest(),
    }
    (store / STORE_FILES.manifest).write_text(json.dumps(manifest))
    staging.rename(model_dir / target)


async def _rollout(stack: Stack, users: list[str]) -> dict:
    """Pages of 5 at ~30 req/s while a renamed version is exported; until pages come from
    it, then 2 s more."""
    import aiohttp

    model_dir = stack.model_repo / "genrec"
    old = latest_export(stack.model_repo)[0].name
    new, prefix = str(int(old) + 1), f"v{int(old) + 1}:"
    pages: list[tuple[int, str, list[str]]] = []
    stop = asyncio.Event()

    async def traffic() -> None:
        async with aiohttp.ClientSession(stack.url, timeout=aiohttp.ClientTimeout(total=5)) as s:
            n = 0
            while not stop.is_set():
                body = {"user_id": users[n % len(users)], "page_size": 5}
                try:
                    async with s.post(REC, json=body) as r:
                        page = await r.json() if r.status == 200 else {}
                        ids = [i["item_id"] for i in page.get("items", [])]
                        pages.append((r.status, page.get("model_version", ""), ids))
                except (aiohttp.ClientError, TimeoutError):
                    pages.append((599, "", []))
                n += 1
                await asyncio.sleep(1 / 30)

    sender = asyncio.create_task(traffic())
    await asyncio.sleep(2.0)
    start = time.monotonic()
    await asyncio.to_thread(renamed_version, model_dir, old, new, prefix)
    switched = None
    while time.monotonic() - start < 90 and switched is None:
        if any(version.endswith(f":{new}") for _, version, _ in pages[-5:]):
            switched = round(time.monotonic() - start, 1)
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    stop.set()
    await sender
    # A page's version says which catalogue named it (`genrec:N`, or `popularity:N` for a
    # fallback page): the renamed ids must come with the new number, and only with it.
    mixed = sum(
        bool(ids) and any(i.startswith(prefix) for i in ids) != version.endswith(f":{new}")
        for _, version, ids in pages
    )
    statuses = Counter(status for status, _, _ in pages)
    return {"fault": "rollout", "requests": len(pages),
            "status_counts": _counts(statuses),
            "unexpected_5xx": sum(v for k, v in statuses.items() if k >= 500),
            "errors": sum(v for k, v in statuses.items() if k != 200),
            "fallback_pages": sum(1 for _, version, _ in pages if version.startswith("popularity")),
            "mixed_pages": mixed, "switch_seconds": switched}  # fmt: skip


def _counts(statuses: Counter) -> dict[str, int]:
    """Status → count, in status order, with JSON's string keys."""
    return {str(k): v for k, v in sorted(statuses.items())}


def _traffic_row(fault: str, traffic: Traffic) -> dict:
    return {
        "fault": fault,
        "requests": sum(traffic.statuses.values()),
        "status_counts": _counts(traffic.statuses),
        "unexpected_5xx": traffic.unexpected_5xx,
        "max_latency_ms": round(max(traffic.latencies_ms), 1),
    }


def tokenizer_determinism(workdir: Path) -> dict:
    """`genrec tokenize` on the embedded default with its defaults, twice, each in a folder of
    its own (the text embeddings computed twice, not read from one cache); the stores compared
    byte for byte but for the wall-clock seconds their manifests record."""
    stores, rates = [], []
    for run in ("a", "b"):
        cwd = workdir / "determinism" / run
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir(parents=True)
        subprocess.run(
            [sys.executable, "-m", "genrec", "tokenize", "-d", "synthetic", "--device", "cpu",
             "--no-progress"], cwd=cwd, check=True, capture_output=True, timeout=1800,
        )  # fmt: skip
        store = cwd / "tokenizer_store" / "synthetic" / "v1"
        manifest = json.loads((store / STORE_FILES.manifest).read_text())
        rates.append(manifest["metrics"]["collision_rate"])
        manifest["metrics"].pop("seconds")
        files = {p.name: p.read_bytes() for p in store.iterdir() if p.name != STORE_FILES.manifest}
        stores.append(files | {STORE_FILES.manifest: json.dumps(manifest, sort_keys=True).encode()})
    a, b = stores
    differing = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
    return {"fault": "tokenizer_determinism", "files_compared": len(a.keys() | b.keys()),
            "files_differing": differing, "collision_rates": rates}  # fmt: skip


FAULTS = ("triton_kill", "triton_stall", "redis_restart", "flood", "malformed")
CHECKS = ("redis_kill_posting", "readyz_triton_stop", "full_restart", "rollout")


def run_faults(stack: Stack, users: list[str], items: list[str], api_key: str) -> list[dict]:
    """The faults, then the checks (the rollout last: it renames the served catalogue)."""
    rows = []
    for fault in FAULTS:
        traffic = Traffic(stack.url, users, items, api_key)
        rows.append(asyncio.run(_run_fault(stack, traffic, fault, pause_s=4.0)))
    traffic = Traffic(stack.url, users, items, api_key)
    rows.append(asyncio.run(_redis_kill_posting(stack, traffic, pause_s=3.0)))
    traffic = Traffic(stack.url, users, items, api_key)
    rows.append(asyncio.run(_readyz_triton_stop(stack, traffic, pause_s=4.0)))
    rows.append(asyncio.run(_full_restart(stack, api_key, items)))
    rows.append(asyncio.run(_rollout(stack, users)))
    return rows


def passed(row: dict) -> bool:
    """The bar each row is held to: no unexpected 5xx and no lost event anywhere, and what
    its own check promises."""
    return (
        row.get("unexpected_5xx", 0) == 0
        and row.get("events_lost", 0) == 0
        and row.get("history_missing", 0) == 0
        and row.get("false_duplicates", 0) == 0
        and row.get("readyz_max_ms", 0) < 1000
        and row.get("readyz_not_ready", 0) == 0
        and row.get("errors", 0) == 0
        and row.get("mixed_pages", 0) == 0
        and (row["fault"] != "rollout" or row.get("switch_seconds") is not None)
        and not row.get("files_differing")
    )


def isolated_repo(model_repo: Path, workdir: Path) -> Path:
    """A copy of the model (its configurations and latest version) under `workdir`, so the
    rollout check adds its version there and never to the user's repository."""
    version, _ = latest_export(model_repo)
    source, target = model_repo / "genrec", workdir / "model_repo" / "genrec"
    shutil.rmtree(target.parent, ignore_errors=True)
    shutil.copytree(
        source, target, ignore=lambda folder, names: [
            n for n in names
            if Path(folder) == source and n.isdigit() and n != version.name
        ],
    )  # fmt: skip
    return target.parent


KNOWN_IDS_ENV = "GENREC_SCHEMATHESIS_IDS"  # what the hooks swap generated ids for


def run_schemathesis(
    url: str,
    redis_url: str,
    api_key: str,
    users: list[str],
    items: list[str],
    seeds: tuple[int, ...] = (0, 1),
    max_examples: int = 500,
    rate: str = "40/s",
) -> dict:
    """Schemathesis with every check, once per seed, paced under the gateway's per-client rate
    limit. Generated valid ids become `users`' and `items`' (`genrec.bench.schemathesis_hooks`),
    so events are recorded: those users' histories change, so give it users of its own. Counts
    the events that reached Redis (`redis_url`), so the write path is seen to be exercised."""
    redis = Redis.from_url(redis_url)
    events_before = sum(1 for _ in redis.scan_iter(event_key("*")))
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": "genrec.bench.schemathesis_hooks",
        KNOWN_IDS_ENV: json.dumps({"users": users, "items": items}),
    }
    cases, failures, codes = 0, 0, []
    for seed in seeds:
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
            "--checks", "all", "--max-examples", str(max_examples), "--seed", str(seed),
            "--no-color", "--rate-limit", rate, "--header", f"X-API-Key: {api_key}",
        ]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
        found = re.search(
            r"(\d+) generated, (?:(\d+) passed|\d+ found (\d+) unique failures)", run.stdout
        )
        cases += int(found[1]) if found else 0
        failures += (0 if found[2] else int(found[3])) if found else 1
        codes.append(run.returncode)
    return {
        "schemathesis_cases": cases,
        "schemathesis_failures": failures,
        "schemathesis_exit_code": max(codes),
        "schemathesis_seeds": list(seeds),
        "schemathesis_events_recorded": sum(1 for _ in redis.scan_iter(event_key("*")))
        - events_before,
    }


COLUMNS = (
    "fault", "passed", "requests", "status_counts", "unexpected_5xx", "max_latency_ms",
    "events_acked", "events_lost", "recovery_seconds", "probe_status_counts",
)  # fmt: skip
CHECK_COLUMNS = (
    "fault", "passed", "requests", "status_counts", "unexpected_5xx", "events_acked",
    "events_lost", "history_missing", "false_duplicates", "readyz_max_ms", "readyz_not_ready",
    "errors", "mixed_pages", "fallback_pages", "switch_seconds", "files_differing",
    "collision_rates",
)  # fmt: skip


def write_report(rows: list[dict], schemathesis: dict, meta: dict, path: Path) -> str:
    """The whole run: JSON (`rows`, the Schemathesis figures, command, hardware) + Markdown."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**row, "passed": passed(row)} for row in rows]
    path.write_text(json.dumps({"rows": rows, **schemathesis, **meta}, indent=2) + "\n")
    faults = [r for r in rows if r["fault"] in FAULTS]
    checks = [r for r in rows if r["fault"] not in FAULTS]
    text = (
        "# Reliability under faults\n\n"
        f"Generated from `{path.name}` by `{meta['command']}` on {meta['hardware']}. Steady "
        "traffic of 20 req/s (one in five an acknowledged event) runs through each fault; "
        "`unexpected_5xx` counts 5xx other than 503 with Retry-After; `events_lost` counts "
        "acknowledged events whose id Redis no longer holds; `recovery_seconds` runs from the "
        "end of the fault to the first page from the model again; `probe_status_counts`: what "
        "the flooding client (another address) or the malformed bodies got.\n\n"
        + markdown_table(faults, COLUMNS)
        + "\nThe promises about state, each under its own fault (module docstring of "
        "`genrec/bench/reliability.py`): `history_missing`, acknowledged events whose item is "
        "not in their user's history; `false_duplicates`, retries not answered as a duplicate "
        "in the history; `readyz_*`, a prober's `/readyz` calls every 100 ms (worst time, "
        "answers other than ready); `mixed_pages`, pages of one version named through the "
        "other's catalogue; `files_differing`, files of two same-seed tokenizer stores that "
        "are not byte for byte the same.\n\n"
        + markdown_table(checks, CHECK_COLUMNS)
        + f"\nSchemathesis (every check, OpenAPI schema of the gateway): "
        f"{schemathesis['schemathesis_cases']} generated cases, "
        f"{schemathesis['schemathesis_failures']} failures.\n"
    )
    path.with_suffix(".md").write_text(text)
    return text
