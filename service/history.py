"""Users' histories in Redis: one bounded list of item ids per user, newest last (what the
decoder reads), a bounded log of their events (type, value, time), and the idempotent append
that feeds both."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.coalesce import Coalescer
from service.metrics import REDIS_LATENCY
from service.schemas import Interaction, Rating

# Atomic in Redis: remember the event id (with a digest of its content) or find it already
# there. Only a new id writes, and writes everything at once: the event (type, value, time) to
# the user's event log, and its item to the history the decoder reads when the event counts
# there. So an acknowledged "duplicate" always means "recorded, with this outcome".
_APPEND = """
local seen = redis.call('GET', KEYS[1])
if seen then return seen end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
if ARGV[6] == '1' then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
end
return 'new'
"""


def history_key(user_id: str) -> str:
    return f"genrec:hist:{user_id}"


def event_log_key(user_id: str) -> str:
    return f"genrec:events:{user_id}"


def event_key(event_id: str) -> str:
    return f"genrec:event:{event_id}"


class EventConflict(ValueError):
    """An event id that was already recorded with other content."""


class NotReplicated(RedisError):
    """The primary has the event but fewer replicas than required confirmed it in time: not
    acknowledged (a 503 with Retry-After, like any Redis failure); the retry finds it."""


class Histories:
    """`keep` items per history and events per log; a rating enters the history only from
    `min_rating` up (a 1-star rating is not a wish for more of the same), clicks and purchases
    always do. With `wait_replicas`, an event is acknowledged only once that many replicas
    confirm they hold it (Redis `WAIT` on the connection that wrote it, within
    `wait_timeout_ms`), so losing the primary loses no acknowledged event."""

    def __init__(
        self,
        redis: Redis,
        keep: int,
        event_ttl_s: int,
        min_rating: float,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 200,
    ):
        self.redis, self.keep, self.event_ttl_s = redis, keep, event_ttl_s
        self.min_rating = min_rating
        self.wait_replicas, self.wait_timeout_ms = wait_replicas, wait_timeout_ms
        self._append = redis.register_script(_APPEND)
        self._reads = Coalescer(self._read, max_batch=64, max_calls=4)

    async def recent(self, user_id: str, n: int) -> list[str]:
        """The user's last n item ids, oldest first. Reads that wait together share one
        round trip (a pipeline)."""
        start = time.perf_counter()
        try:
            return await self._reads((user_id, n))
        finally:
            REDIS_LATENCY.labels("history").observe(time.perf_counter() - start)

    async def _read(self, reads: list[tuple[str, int]]) -> list[list[str]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, n in reads:
                pipe.lrange(history_key(user_id), -n, -1)
            lists = await pipe.execute()
        return [[i.decode() for i in items] for items in lists]

    def counts(self, event: Interaction | Rating) -> bool:
        """Whether the event's item enters the history the decoder reads."""
        return not isinstance(event, Rating) or event.value >= self.min_rating

    async def append(self, event: Interaction | Rating) -> bool:
        """→ True if the event was new (recorded now), False for a repeat of a recorded
        event. Raises EventConflict for a reused event id with different content."""
        content = event.model_dump_json(exclude={"event_id"})
        digest = hashlib.sha256(content.encode()).hexdigest()[:32]
        record = event.model_copy(update={"ts": event.ts or datetime.now(UTC)})
        keys = [event_key(event.event_id), history_key(event.user_id), event_log_key(event.user_id)]
        args = [digest, event.item_id, self.keep, self.event_ttl_s, record.model_dump_json(),
                "1" if self.counts(event) else "0"]  # fmt: skip
        start = time.perf_counter()
        if self.wait_replicas:  # the write and its WAIT on one connection: a pipeline
            async with self.redis.pipeline(transaction=False) as pipe:
                await self._append(keys=keys, args=args, client=pipe)
                pipe.wait(self.wait_replicas, self.wait_timeout_ms)
                seen, copies = await pipe.execute()
            if copies < self.wait_replicas:
                raise NotReplicated(
                    f"event {event.event_id!r}: {copies} of {self.wait_replicas} replicas "
                    f"confirmed it within {self.wait_timeout_ms} ms"
                )
        else:
            seen = await self._append(keys=keys, args=args)
        REDIS_LATENCY.labels("event").observe(time.perf_counter() - start)
        seen = seen.decode()
        if seen == "new":
            return True
        if seen != digest:
            raise EventConflict(f"event_id {event.event_id!r} was recorded with other content")
        return False
