"""Histories that survive and mean what they say: reloading the dataset's histories (as every
`genrec serve` start does) keeps what events wrote since; an event stores its type, value and
time; a rating needs its stars, and only ratings from 3 stars up enter the history."""

from __future__ import annotations

import json

import pytest
from redis import Redis

from genrec.local_stack import load_histories


def _event(n: int, user: str, item: str, **extra) -> dict:
    return {"event_id": f"hist-{n}", "user_id": user, "item_id": item, "type": "click", **extra}


def _history(redis: Redis, user: str) -> list[str]:
    return [i.decode() for i in redis.lrange(f"genrec:hist:{user}", 0, -1)]


def test_reloading_the_dataset_keeps_acknowledged_events(client, redis, stack, small_synthetic):
    user, item = small_synthetic.users[80].id, small_synthetic.items[7].id
    ack = client.post("/v1/events", json=_event(1, user, item))
    assert ack.json() == {"event_id": "hist-1", "duplicate": False, "in_history": True}
    load_histories(stack, stack.workdir / "histories.jsonl")  # what a restart runs
    assert _history(redis, user)[-1] == item
    retry = client.post("/v1/events", json=_event(1, user, item))
    assert retry.json()["duplicate"] is True and _history(redis, user)[-1] == item


def test_replace_rewrites_every_history(redis, stack, small_synthetic, tmp_path):
    from service.load_histories import load

    user = small_synthetic.users[81]
    redis.rpush(f"genrec:hist:{user.id}", "an-item-of-an-old-catalogue")
    lines = tmp_path / "h.jsonl"
    lines.write_text(json.dumps({"user_id": user.id, "items": ["SYN00001", "SYN00002"]}) + "\n")
    assert load(lines, redis, keep=200) == (0, 1)  # kept
    assert _history(redis, user.id)[-1] == "an-item-of-an-old-catalogue"
    assert load(lines, redis, keep=200, replace=True) == (1, 0)
    assert _history(redis, user.id) == ["SYN00001", "SYN00002"]


def test_events_are_logged_with_type_value_and_time(client, redis, small_synthetic):
    user, items = small_synthetic.users[82].id, [i.id for i in small_synthetic.items[10:13]]
    before = _history(redis, user)
    low = client.post("/v1/events", json=_event(2, user, items[0], type="rating", value=1))
    high = client.post("/v1/events", json=_event(3, user, items[1], type="rating", value=5))
    bought = client.post(
        "/v1/events",
        json=_event(4, user, items[2], type="purchase", value=19.5, ts="2026-11-30T10:00:00Z"),
    )
    assert [r.json()["in_history"] for r in (low, high, bought)] == [False, True, True]
    assert _history(redis, user) == [*before, items[1], items[2]]  # the 1-star rating is not
    log = [json.loads(e) for e in redis.lrange(f"genrec:events:{user}", 0, -1)]
    assert [(e["type"], e["value"]) for e in log] == [
        ("rating", 1),
        ("rating", 5),
        ("purchase", 19.5),
    ]
    assert log[2]["ts"].startswith("2026-11-30T10:00:00") and log[0]["ts"]  # the gateway's clock


@pytest.mark.parametrize("value", [None, 0, 5.5])
def test_a_rating_needs_stars_in_range(client, small_synthetic, value):
    user, item = small_synthetic.users[83].id, small_synthetic.items[0].id
    body = _event(5, user, item, type="rating") | ({} if value is None else {"value": value})
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422 and '"value"' in r.text


def test_with_a_replica_required_an_event_is_acknowledged_only_once_it_has_it(tmp_path):
    """`GENREC_REDIS_WAIT_REPLICAS`: the write and Redis WAIT on one connection. With the
    replica following, the event is acknowledged and the replica holds it; with the replica
    gone, the same write is refused (a 503 through the gateway's RedisError handler)."""
    import asyncio
    import subprocess
    import time

    from redis.asyncio import Redis as AsyncRedis

    from genrec.local_stack import free_port, redis_server_binary
    from service.history import Histories, NotReplicated, event_key
    from service.schemas import Interaction

    ports = free_port(), free_port()

    def server(port: int, *extra: str) -> subprocess.Popen:
        command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                   "--save", "", "--dir", str(tmp_path), "--dbfilename", f"{port}.rdb"]  # fmt: skip
        return subprocess.Popen([*command, *extra], stdout=subprocess.DEVNULL)

    servers = [server(ports[0]), server(ports[1], "--replicaof", "127.0.0.1", str(ports[0]))]
    try:
        replica = Redis(port=ports[1])
        deadline = time.monotonic() + 10
        while replica.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never linked"
            time.sleep(0.05)

        async def append(n: int) -> bool:
            async with AsyncRedis(port=ports[0]) as redis:
                histories = Histories(redis, 10, 60, 3.0, wait_replicas=1, wait_timeout_ms=300)
                event = Interaction(event_id=f"w{n}", user_id="u", item_id="i", type="click")
                return await histories.append(event)

        assert asyncio.run(append(1)) is True
        assert replica.exists(event_key("w1"))  # on the replica before the acknowledgement
        servers[1].kill()
        servers[1].wait()
        with pytest.raises(NotReplicated, match="0 of 1 replicas"):
            asyncio.run(append(2))
    finally:
        for server in servers:
            server.kill()


def test_a_redis_password_reaches_redis(tmp_path):
    """`GENREC_REDIS_PASSWORD` (the chart's Secret; its Redis runs with `requirepass`): the
    gateway's loader gets in with it and is refused without it."""
    import os
    import subprocess
    import sys
    import time

    from redis.exceptions import ConnectionError as NotUp

    from genrec.local_stack import free_port, redis_server_binary

    port = free_port()
    server = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path), "--requirepass", "s3cret-password-of-16"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    lines = tmp_path / "h.jsonl"
    lines.write_text(json.dumps({"user_id": "u1", "items": ["SYN00001"]}) + "\n")
    env = os.environ | {"GENREC_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    try:
        redis = Redis(port=port, password="s3cret-password-of-16")
        for _ in range(100):  # up within a second
            try:
                redis.ping()
                break
            except NotUp:
                time.sleep(0.01)
        load = [sys.executable, "-m", "service.load_histories", str(lines)]
        refused = subprocess.run(load, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        env["GENREC_REDIS_PASSWORD"] = "s3cret-password-of-16"
        loaded = subprocess.run(load, env=env, capture_output=True, text=True, timeout=60)
        assert loaded.returncode == 0, loaded.stderr[-1000:]
        assert redis.lrange("genrec:hist:u1", 0, -1) == [b"SYN00001"]
    finally:
        server.kill()
