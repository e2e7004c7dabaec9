"""Page chains: consistent pagination whose state lives in Redis, so any gateway replica can
serve any page.

A chain starts with a request without a token and gets a random id. Each page is written once
(HSETNX) into the chain's hash, with the user it belongs to, and the whole hash expires after
`ttl` since its last page. Page n+1 is decoded with every item of pages 1..n excluded, so no
item repeats within a chain; a page that exists is returned as stored, so re-fetching it with
the same token gives the same items. Tokens are `<chain>.<page>.<mac>`, the MAC over chain,
page and user, so a client can neither forge a chain nor continue someone else's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from service.metrics import REDIS_LATENCY

TOKEN_PATTERN = r"^[0-9a-f]{24}\.[1-9][0-9]{0,3}\.[A-Za-z0-9_-]{24}$"


class BadPageToken(ValueError):
    """Malformed, forged, for another user, or for a chain that expired."""

    status = 400


class ForeignPageToken(BadPageToken):
    """Well-formed but not signed for this user: forged, or someone else's."""

    status = 403


class ExpiredPageToken(BadPageToken):
    """Signed, but its chain is gone from Redis (TTL) or never existed."""

    status = 404


@dataclass(frozen=True)
class Cursor:
    chain: str
    page: int  # 1-based


@dataclass(frozen=True)
class StoredPage:
    items: list[str]  # item ids in rank order (ids, not indices: they outlive a model version)
    scores: list[float | None]
    fallback: bool
    model_version: str
    size: int = 0  # the page size it was decoded for (0: stored before sizes were)


@dataclass(frozen=True)
class ChainState:
    earlier: list[StoredPage]  # pages 1..n-1
    current: StoredPage | None  # page n when it was already served

    @property
    def shown(self) -> list[str]:
        return [i for p in self.earlier for i in p.items]


def _key(chain: str) -> str:
    return f"genrec:chain:{chain}"


class PageChains:
    def __init__(self, redis: Redis, secret: bytes, ttl_s: int):
        self.redis, self.secret, self.ttl_s = redis, secret, ttl_s

    def _mac(self, chain: str, page: int, user_id: str) -> str:
        digest = hmac.new(self.secret, f"{chain}.{page}.{user_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:18]).decode()

    def token(self, cursor: Cursor, user_id: str) -> str:
        return f"{cursor.chain}.{cursor.page}.{self._mac(cursor.chain, cursor.page, user_id)}"

    def new(self) -> Cursor:
        return Cursor(secrets.token_hex(12), 1)

    def parse(self, token: str, user_id: str) -> Cursor:
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 9999:
            raise BadPageToken("page_token is malformed")
        chain, page = parts[0], int(parts[1])
        if not hmac.compare_digest(parts[2], self._mac(chain, page, user_id)):
            raise ForeignPageToken("page_token was not issued for this user_id")
        return Cursor(chain, page)

    async def state(self, cursor: Cursor, user_id: str) -> ChainState:
        """Pages 1..n of the chain (one HMGET). Page 1 of a new chain has no state."""
        if cursor.page == 1:
            return ChainState([], None)
        fields = ["user", *(f"p{i}" for i in range(1, cursor.page + 1))]
        start = time.perf_counter()
        values = await self.redis.hmget(_key(cursor.chain), fields)
        REDIS_LATENCY.labels("chain_read").observe(time.perf_counter() - start)
        owner, pages = values[0], values[1:]
        if owner is None or any(p is None for p in pages[:-1]):
            raise ExpiredPageToken("page_token expired or unknown; start again without a token")
        if owner.decode() != user_id:  # only reachable with a MAC collision
            raise ForeignPageToken("page_token was not issued for this user_id")
        decoded = [None if p is None else StoredPage(**orjson.loads(p)) for p in pages]
        return ChainState(decoded[:-1], decoded[-1])

    async def store(self, cursor: Cursor, user_id: str, page: StoredPage) -> StoredPage:
        """Write page n unless another replica wrote it first; → the page that stands."""
        key, field = _key(cursor.chain), f"p{cursor.page}"
        start = time.perf_counter()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "user", user_id)
            pipe.hsetnx(key, field, orjson.dumps(page.__dict__))
            pipe.expire(key, self.ttl_s)
            pipe.hget(key, field)
            *_, stored = await pipe.execute()
        REDIS_LATENCY.labels("chain_write").observe(time.perf_counter() - start)
        return StoredPage(**orjson.loads(stored))
