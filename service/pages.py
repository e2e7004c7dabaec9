"""Page chains: consistent pagination whose state lives in Redis, so any gateway replica can
serve any page.

A chain starts with a request without a token and gets a random id. Page 1 writes nothing: its
items travel, signed, in the token of page 2, so anonymous traffic that never asks for a second
page leaves no state behind. Asking for page 2 writes pages 1 and 2 into the chain's hash, each
once (HSETNX), with the user it belongs to, and the whole hash expires after `ttl` since its
last page. Page n+1 is decoded with every item of pages 1..n excluded, so no item repeats within
a chain; a page that exists is returned as stored, so re-fetching it with the same token gives
the same items. Tokens are `<chain>.<page>.<mac>`, and page 2's `<chain>.2.<mac>.<page 1>`; the
MAC covers all of it and the user, so a client can neither forge a chain, nor continue someone
else's, nor edit the page 1 it carries.
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

# Page 2's token carries page 1: at most MAX_PAGE_SIZE ids of ID_MAX characters, base64url.
FIRST_PAGE_MAX = 12_000
TOKEN_PATTERN = (
    r"^[0-9a-f]{24}\.[1-9][0-9]{0,3}\.[A-Za-z0-9_-]{24}"
    rf"(\.[A-Za-z0-9_-]{{1,{FIRST_PAGE_MAX}}})?$"
)


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
class StoredPage:
    items: list[str]  # item ids in rank order (ids, not indices: they outlive a model version)
    scores: list[float | None]
    fallback: bool
    model_version: str
    size: int = 0  # the page size it was decoded for (0: stored before sizes were)


@dataclass(frozen=True)
class FirstPage:
    """Page 1 as page 2's token carries it: what page 2 must exclude, and when it was served
    (the chain expires `ttl` after it, as a stored one would)."""

    items: tuple[str, ...]
    served_at: int  # unix seconds

    def encode(self) -> str:
        raw = orjson.dumps({"items": self.items, "at": self.served_at})
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> FirstPage:
        raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return cls(tuple(raw["items"]), raw["at"])

    def stored(self) -> StoredPage:
        """As the chain stores it once page 2 is served: later pages read only its items."""
        return StoredPage(list(self.items), [None] * len(self.items), False, "", len(self.items))


@dataclass(frozen=True)
class Cursor:
    chain: str
    page: int  # 1-based
    first: FirstPage | None = None  # page 1, carried by page 2's token


@dataclass(frozen=True)
class ChainState:
    earlier: list[StoredPage]  # pages 1..n-1
    current: StoredPage | None  # page n when it was already served

    @property
    def shown(self) -> list[str]:
        return [i for p in self.earlier for i in p.items]


def chain_key(chain: str) -> str:
    return f"genrec:chain:{chain}"


class PageChains:
    def __init__(self, redis: Redis, secret: bytes, ttl_s: int):
        self.redis, self.secret, self.ttl_s = redis, secret, ttl_s

    def _mac(self, signed: str, user_id: str) -> str:
        digest = hmac.new(self.secret, f"{signed}.{user_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:18]).decode()

    def token(self, cursor: Cursor, user_id: str) -> str:
        tail = f".{cursor.first.encode()}" if cursor.first else ""
        mac = self._mac(f"{cursor.chain}.{cursor.page}{tail}", user_id)
        return f"{cursor.chain}.{cursor.page}.{mac}{tail}"

    def new(self) -> Cursor:
        return Cursor(secrets.token_hex(12), 1)

    def following(self, cursor: Cursor, page: StoredPage) -> Cursor:
        """The cursor of the page after `page` (page 1's carries it: it was never stored)."""
        first = FirstPage(tuple(page.items), int(time.time())) if cursor.page == 1 else None
        return Cursor(cursor.chain, cursor.page + 1, first)

    def parse(self, token: str, user_id: str) -> Cursor:
        parts = token.split(".")
        if len(parts) not in (3, 4) or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 9999:
            raise BadPageToken("page_token is malformed")
        chain, page, mac = parts[0], int(parts[1]), parts[2]
        tail = f".{parts[3]}" if len(parts) == 4 else ""
        if not hmac.compare_digest(mac, self._mac(f"{chain}.{page}{tail}", user_id)):
            raise ForeignPageToken("page_token was not issued for this user_id")
        first = FirstPage.decode(parts[3]) if tail else None  # signed by us: well-formed
        if first is not None and time.time() - first.served_at > self.ttl_s:
            raise ExpiredPageToken("page_token expired; start again without a token")
        return Cursor(chain, page, first)

    async def state(self, cursor: Cursor, user_id: str) -> ChainState:
        """Pages 1..n of the chain (one HMGET). Page 1 of a new chain has no state, and page 2
        none until it is first served: page 1 comes from its token then."""
        if cursor.page == 1:
            return ChainState([], None)
        fields = ["user", *(f"p{i}" for i in range(1, cursor.page + 1))]
        start = time.perf_counter()
        values = await self.redis.hmget(chain_key(cursor.chain), fields)
        REDIS_LATENCY.labels("chain_read").observe(time.perf_counter() - start)
        owner, pages = values[0], values[1:]
        if cursor.first is not None and owner is None:  # page 2, asked for the first time
            return ChainState([cursor.first.stored()], None)
        if owner is None or any(p is None for p in pages[:-1]):
            raise ExpiredPageToken("page_token expired or unknown; start again without a token")
        if owner.decode() != user_id:  # only reachable with a MAC collision
            raise ForeignPageToken("page_token was not issued for this user_id")
        decoded = [None if p is None else StoredPage(**orjson.loads(p)) for p in pages]
        return ChainState(decoded[:-1], decoded[-1])

    async def store(self, cursor: Cursor, user_id: str, page: StoredPage) -> StoredPage:
        """Write page n (and page 1 from page 2's token) unless another replica wrote it first;
        → the page that stands."""
        key, field = chain_key(cursor.chain), f"p{cursor.page}"
        start = time.perf_counter()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "user", user_id)
            if cursor.first is not None:
                pipe.hsetnx(key, "p1", orjson.dumps(cursor.first.stored().__dict__))
            pipe.hsetnx(key, field, orjson.dumps(page.__dict__))
            pipe.expire(key, self.ttl_s)
            pipe.hget(key, field)
            *_, stored = await pipe.execute()
        REDIS_LATENCY.labels("chain_write").observe(time.perf_counter() - start)
        return StoredPage(**orjson.loads(stored))
