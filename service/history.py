"""Users' histories in Redis: one bounded list of item ids per user, newest last, and the
idempotent event append that feeds it."""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

from service.metrics import REDIS_LATENCY
from service.schemas import Event

# Atomic in Redis: remember the event id (with a digest of its content) or find it already
# there; only a new id appends the item and trims the list.
_APPEND = """
local seen = redis.call('GET', KEYS[1])
if seen then return seen end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
return 'new'
"""


def history_key(user_id: str) -> str:
    return f"genrec:hist:{user_id}"


def _event_key(event_id: str) -> str:
    return f"genrec:event:{event_id}"


class EventConflict(ValueError):
    """An event id that was already recorded with other content."""


class Histories:
    def __init__(self, redis: Redis, keep: int, event_ttl_s: int):
        self.redis, self.keep, self.event_ttl_s = redis, keep, event_ttl_s
        self._append = redis.register_script(_APPEND)

    async def recent(self, user_id: str, n: int) -> list[str]:
        """The user's last n item ids, oldest first."""
        start = time.perf_counter()
        items = await self.redis.lrange(history_key(user_id), -n, -1)
        REDIS_LATENCY.labels("history").observe(time.perf_counter() - start)
        return [i.decode() for i in items]

    async def append(self, event: Event) -> bool:
        """→ True if the event was new (its item appended), False for a repeat of a recorded
        event. Raises EventConflict for a reused event id with different content."""
        digest = hashlib.sha256(event.model_dump_json(exclude={"event_id"}).encode()).hexdigest()[
            :32
        ]
        start = time.perf_counter()
        seen = await self._append(
            keys=[_event_key(event.event_id), history_key(event.user_id)],
            args=[digest, event.item_id, self.keep, self.event_ttl_s],
        )
        REDIS_LATENCY.labels("event").observe(time.perf_counter() - start)
        seen = seen.decode()
        if seen == "new":
            return True
        if seen != digest:
            raise EventConflict(f"event_id {event.event_id!r} was recorded with other content")
        return False
