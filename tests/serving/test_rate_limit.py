"""The shared rate limit against the stack's real cache Redis: checks that wait together share
one script call and still count every request, and a Redis that cannot answer hands the limit
to the local buckets."""

from __future__ import annotations

import asyncio
import uuid

from genrec.local_stack import free_port
from service.breaker import Breaker
from service.middleware import SharedWindows


def test_checks_made_together_count_each_request_and_only_their_client(stack):
    windows = SharedWindows(stack.cache_redis_url, None, rate=1.0, burst=3, breaker=Breaker(3, 1))
    flooder, other = f"key:{uuid.uuid4().hex}", f"key:{uuid.uuid4().hex}"
    calls = 0
    hit = windows._script

    async def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return await hit(*args, **kwargs)

    windows._script = counted

    async def check() -> list[float | None]:
        return await asyncio.gather(*[windows.wait(flooder) for _ in range(5)], windows.wait(other))

    *flood, alone = asyncio.run(check())
    assert calls == 1  # six checks, one round trip
    assert sorted(flood)[:3] == [0.0, 0.0, 0.0]  # the burst of 3 passes, in one batch
    assert all(0 < w <= windows.window_s for w in sorted(flood)[3:])  # the rest wait, bounded
    assert alone == 0.0  # another client keeps its own window


def test_a_redis_that_cannot_answer_opens_the_breaker_for_the_local_buckets():
    breaker = Breaker(2, 60)
    windows = SharedWindows(f"redis://127.0.0.1:{free_port()}/0", None, 1.0, 3, breaker)

    async def checks() -> list[float | None]:
        return [await windows.wait("addr:10.0.0.1") for _ in range(3)]

    assert asyncio.run(checks()) == [None, None, None]  # the caller falls back to its buckets
    assert not breaker.allow()  # and the dead Redis is not asked again until the reset
