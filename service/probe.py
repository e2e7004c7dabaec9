"""What `/readyz` reports: whether Redis and Triton answer, each asked under a short deadline
and the answer cached for a moment, so a probe never hangs on a backend and a burst of probes
costs one check. Readiness itself is "this gateway can serve a page": with either backend down
it still serves popularity pages, so an outage of one never turns every gateway NotReady."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.decoder import TritonDecoder


@dataclass(frozen=True)
class Backends:
    redis: bool
    model: bool

    @property
    def serving(self) -> str:
        """What a page comes from now."""
        return "model" if self.redis and self.model else "popularity"


class BackendProbe:
    def __init__(self, redis: Redis, decoder: TritonDecoder, timeout_s: float, cache_s: float):
        self.redis, self.decoder = redis, decoder
        self.timeout_s, self.cache_s = timeout_s, cache_s
        self._last: tuple[float, Backends] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Backends:
        async with self._lock:  # concurrent probes wait for the one check in flight
            if self._last is not None and time.monotonic() - self._last[0] < self.cache_s:
                return self._last[1]
            redis, model = await asyncio.gather(
                self._within(self._redis_ok()), self._within(self.decoder.ready())
            )
            self._last = (time.monotonic(), Backends(redis, model))
            return self._last[1]

    async def _redis_ok(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def _within(self, check) -> bool:
        try:
            return await asyncio.wait_for(check, self.timeout_s)
        except TimeoutError:
            return False
