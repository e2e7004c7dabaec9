"""Who is calling: API keys per client, each scoped `read` (pages, histories) and/or `write`
(events), and held only as SHA-256 digests, so a leaked configuration leaks no key.

A presented `X-API-Key` is hashed and looked up: the keys are random, so comparing digests
reveals nothing a timing attack could use, and a lookup stays O(1) however many clients there
are. `GENREC_API_KEY` (the operator's key, which `genrec serve` and the demo generate) is one
more client, `operator`, with both scopes. The rate limit is keyed on the client a key names
(`service.middleware.RateLimit`), so clients behind one proxy address do not share a bucket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings import Scope from here
    from service.settings import Settings

OPERATOR = "operator"  # the client GENREC_API_KEY names
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # a client's name: it keys logs and rate limits


class Scope(StrEnum):
    read = "read"  # /v1/recommendations, /v1/history
    write = "write"  # /v1/events


@dataclass(frozen=True)
class Client:
    name: str
    scopes: frozenset[Scope]


def digest(key: str) -> str:
    """The form a key is configured in (`GENREC_CLIENTS`' `sha256`)."""
    return hashlib.sha256(key.encode()).hexdigest()


class Clients:
    def __init__(self, settings: Settings):
        self.by_digest = {
            entry.sha256: Client(name, frozenset(entry.scopes))
            for name, entry in settings.clients.items()
        }
        if settings.api_key is not None and settings.api_key.get_secret_value():
            key = digest(settings.api_key.get_secret_value())
            self.by_digest[key] = Client(OPERATOR, frozenset(Scope))
        # Unset: anonymous reads only on a development machine.
        self.anonymous_reads = (
            settings.dev_mode if settings.anonymous_reads is None else settings.anonymous_reads
        )
        # No key at all (only dev mode starts so): writes are open, as the demo's page expects.
        self.writes_open = not self.by_digest

    def identify(self, key: str | None) -> Client | None:
        """The client `key` belongs to, or None (no key, or one nobody was given)."""
        return self.by_digest.get(digest(key)) if key else None

    def needs_key(self, scope: Scope) -> bool:
        return not (self.anonymous_reads if scope == Scope.read else self.writes_open)

    def permits(self, client: Client | None, scope: Scope) -> bool:
        """Whether `client` (None: no known key was sent) may act in `scope`."""
        return scope in client.scopes if client is not None else not self.needs_key(scope)
