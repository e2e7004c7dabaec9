"""Faults caused for real on loopback, each bounded in requests and time: writes without the
key, one client flooding, redis-server killed and restarted, tritonserver killed and restarted.
Users see degraded pages, never 5xx storms, and no acknowledged event is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import httpx
from redis import Redis

from tests.serving.conftest import API_KEY, gateway

REC = "/v1/recommendations"


def _event(n: int, user: str, item: str) -> dict:
    return {"event_id": f"fault-{n}", "user_id": user, "item_id": item, "type": "purchase"}


def test_writes_need_the_api_key(stack, small_synthetic):
    event = _event(0, small_synthetic.users[0].id, small_synthetic.items[0].id)
    for headers in ({}, {"X-API-Key": "wrong"}):
        r = httpx.post(f"{stack.url}/v1/events", json=event, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "missing or wrong X-API-Key"}
    r = httpx.post(f"{stack.url}/v1/events", json=event, headers={"X-API-Key": API_KEY})
    assert r.status_code == 200


def test_a_flooding_client_gets_429_then_recovers(stack, tmp_path):
    """On a gateway with a limit a slow machine's flood passes for sure (10/s, burst 20: any
    flood answered at more than 10 requests a second), whatever the machine's speed."""
    limited_gateway = gateway(
        stack, tmp_path, GENREC_RATE_LIMIT_RPS="10", GENREC_RATE_LIMIT_BURST="20"
    )
    with limited_gateway as (port, _):
        url = f"http://127.0.0.1:{port}"

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=10) as c:
                sem = asyncio.Semaphore(20)

                async def one(n: int) -> httpx.Response:
                    async with sem:  # a new forwarded address each time: it must not count
                        spoofed = {"X-Forwarded-For": f"10.0.{n // 256}.{n % 256}"}
                        return await c.post(REC, json={}, headers=spoofed)  # cheap: a 422

                return await asyncio.gather(*(one(n) for n in range(300)))

        statuses = [r.status_code for r in asyncio.run(flood())]
        limited = [s for s in statuses if s == 429]
        assert limited and set(statuses) <= {422, 429}
        time.sleep(4.5)  # the sliding window (20 per 2 s) has passed twice
        assert httpx.post(f"{url}{REC}", json={"user_id": "after-flood"}).status_code == 200


def test_redis_killed_while_events_are_posted_loses_no_acknowledged_one(stack, small_synthetic):
    """SIGKILL of redis-server mid-stream: every event acknowledged before (or during) the
    crash is in Redis after it restarts from its append-only file. Redis writes the AOF before
    it replies, so a process crash loses nothing acknowledged (a host crash can lose the last
    second under `appendfsync everysec`; `always` closes that, see reports/README.md)."""
    user, catalog = small_synthetic.users[50].id, small_synthetic.items
    items = [catalog[n % len(catalog)].id for n in range(300)]  # more than the crash spans
    headers = {"X-API-Key": API_KEY}
    acked: list[str] = []
    posting = threading.Event()

    def post_events() -> None:
        with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as c:
            for n, item in enumerate(items):
                r = c.post("/v1/events", json=_event(100 + n, user, item))
                if r.status_code == 200:
                    acked.append(f"fault-{100 + n}")
                else:
                    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
                posting.set()
                time.sleep(0.015)  # under the test stack's rate limit (100/s)

    sender = threading.Thread(target=post_events)
    sender.start()
    posting.wait(10)
    time.sleep(0.3)
    stack.redis.kill()  # SIGKILL while events arrive: no shutdown save, only the AOF survives
    with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as c:
        try:
            start = time.monotonic()
            page = c.post(REC, json={"user_id": user})
            assert page.status_code == 200 and page.json()["fallback"] is True
            assert page.json()["next_page_token"] is None
            assert time.monotonic() - start < 1.5
            refused = c.post("/v1/events", json=_event(9999, user, items[0]))
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert "detail" in refused.json() and "127.0.0.1" not in refused.text
        finally:
            stack.redis.start()
        sender.join()
        redis = Redis.from_url(stack.redis_url)
        lost = [e for e in acked if not redis.exists(f"genrec:event:{e}")]
        assert 0 < len(acked) < len(items) and not lost  # some refused during the crash
        newest = json.loads(redis.lrange(f"genrec:events:{user}", -1, -1)[0])
        assert newest["event_id"] == acked[-1] and newest["type"] == "purchase"
        again = c.post("/v1/events", json=_event(100, user, items[0]))  # a retry of an old one
        assert again.json()["duplicate"] is True


def test_a_dead_decoder_trips_the_breaker_and_the_model_comes_back(stack, small_synthetic):
    user = small_synthetic.users[60].id
    stack.triton.kill()
    try:
        latencies = []
        for _ in range(10):
            start = time.monotonic()
            page = httpx.post(f"{stack.url}{REC}", json={"user_id": user}, timeout=5).json()
            latencies.append(time.monotonic() - start)
            assert page["fallback"] is True and len(page["items"]) == 10
        assert max(latencies) < 1.0  # the deadline bounds every call
        assert sorted(latencies)[5] < 0.1  # with the breaker open, fallbacks come at once
        metrics = httpx.get(stack.metrics_url).text
        assert 'genrec_fallbacks_total{reason="decoder_unavailable"}' in metrics
    finally:
        stack.triton.start()
    deadline = time.monotonic() + 20
    while httpx.post(f"{stack.url}{REC}", json={"user_id": user}).json()["fallback"]:
        assert time.monotonic() < deadline, "the gateway did not go back to the model"
        time.sleep(0.2)


def test_a_stalled_decoder_costs_at_most_the_deadline(stack, small_synthetic):
    """SIGSTOP: tritonserver keeps its sockets open but answers nothing."""
    user = small_synthetic.users[70].id
    os.kill(stack.triton.process.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        page = httpx.post(f"{stack.url}{REC}", json={"user_id": user}, timeout=5).json()
        assert page["fallback"] is True and time.monotonic() - start < 1.0
    finally:
        os.kill(stack.triton.process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while httpx.post(f"{stack.url}{REC}", json={"user_id": user}).json()["fallback"]:
        assert time.monotonic() < deadline, "the gateway did not go back to the model"
        time.sleep(0.2)
