"""Gateway settings, read from the environment (`GENREC_*`) by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from genrec.contract import MAX_HISTORY
from service.clients import NAME, Scope

ClientName = Annotated[str, Field(pattern=NAME)]


class ClientKey(BaseModel):
    """One client's key as configured: its SHA-256 digest (hex), never the key itself."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(min_length=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GENREC_", env_file=".env", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password: SecretStr | None = None  # Redis `requirepass` (the chart's Secret sets it)
    # The short-lived state anyone's traffic creates, page chains (`service.pages`) and rate-limit
    # windows, in a Redis of its own with an evicting memory policy, so it can never crowd out
    # the events, whose Redis runs noeviction. An evicted chain ends (404: start again), an
    # evicted window starts afresh. Unset: `redis_url`'s (then keep that Redis's memory ample).
    cache_redis_url: str | None = None
    cache_redis_password: SecretStr | None = None  # its `requirepass` (the chart's Secret sets it)
    # Triton's HTTP address, `host:port`. Several servers share the load round robin: name them
    # all (`10.0.0.5:8000,10.0.0.6:8000`), or a name with an address per server (a headless
    # Service: `triton-pods:8000`), which is looked up again every few seconds.
    triton_url: str = "127.0.0.1:8000"
    triton_model: str = "genrec"
    # The model's folder in the Triton repository: the gateway reads the catalogue (item ids,
    # titles, user SCIDs) of the version Triton serves from it.
    model_dir: Path = Path("model_repo/genrec")
    catalog_poll_s: float = Field(2.0, gt=0)  # how often to look for a newly served version
    triton_timeout_s: float = Field(0.8, gt=0)
    # Pages a worker sends Triton in one request (at most the model's max_batch_size), and its
    # calls in flight: pages that arrive while all are out wait for the next free one, in one
    # request (service.decoder).
    triton_max_batch: int = Field(32, ge=1, le=256)
    triton_max_calls: int = Field(4, ge=1)
    # Items in the prompt, at most the model's cap.
    history_len: int = Field(MAX_HISTORY, ge=1, le=MAX_HISTORY)
    history_max: int = Field(200, ge=MAX_HISTORY)  # items (and events) kept per user in Redis
    # Ratings from this many stars up enter the history the decoder reads; lower ones are only
    # logged. Clicks and purchases always enter it.
    history_min_rating: float = Field(3.0, ge=1.0, le=5.0)
    page_ttl_s: int = Field(3600, ge=60)  # how long a page chain can be continued
    max_pages: int = Field(20, ge=1)  # pages per chain (exclusions grow with each page)
    # Items asked of the decoder beyond a page's size, so filtering repeats never shortens it.
    page_margin: int = Field(5, ge=0)
    event_ttl_s: int = Field(7 * 86400, ge=60)  # how long an event_id is remembered
    # With Redis replicas: acknowledge an event only once this many of them hold it (WAIT),
    # so a lost primary loses no acknowledged event; 0 acknowledges once the primary has it.
    redis_wait_replicas: int = Field(0, ge=0)
    redis_wait_timeout_ms: int = Field(200, ge=1)
    accept_new_users: bool = False  # events for users the catalogue does not know
    # Signs page tokens so clients cannot forge another user's chain. Required (≥ 16
    # characters of your own) unless `dev_mode`.
    token_secret: SecretStr = SecretStr("")
    max_body_bytes: int = Field(16 * 1024, ge=1024)
    # The operator's key (X-API-Key), good for reads and writes (`/v1/events`). Required (≥ 16
    # characters) unless `dev_mode` or `clients` are set; with neither key, writes are open.
    api_key: SecretStr | None = None
    # More clients, each with its own key and scopes (`service.clients`), as JSON:
    # {"shop-frontend": {"sha256": "<hex digest of its key>", "scopes": ["read"]}}.
    # `genrec client-key NAME --scope read` makes a key and prints its entry.
    clients: dict[ClientName, ClientKey] = {}
    # Pages and histories without a key. Unset: only in dev mode. Outside it, reads need a
    # key with the `read` scope, so nobody can page through users by id (and tell which exist).
    anonymous_reads: bool | None = None
    # A development machine only: a built-in token secret and open writes are accepted (with a
    # warning). Off, the gateway refuses to start without secrets of its own.
    dev_mode: bool = False
    # The HTTP server's limits (`service.server`), per connection unless said otherwise: the
    # request line and headers together; the time for a whole request to arrive, from the
    # connection's opening or its first byte (slow or idle senders are cut off with 408); the
    # idle time between requests; open connections per worker process (more: 503, closed).
    max_header_bytes: int = Field(16 * 1024, ge=1024)
    request_read_timeout_s: float = Field(10.0, gt=0)
    keep_alive_timeout_s: float = Field(5.0, gt=0)
    max_connections: int = Field(1000, ge=1)
    # Addresses or networks of the proxies in front (e.g. ["10.0.0.0/8"]): only their
    # X-Forwarded-For is believed. Empty: nobody's, so no client picks the address its rate
    # limit is keyed on.
    trusted_proxies: list[str] = []
    # Prometheus metrics (all workers') on a port of their own, never the public one: the
    # chart lets only `networkPolicy.metricsFrom` reach it.
    metrics_port: int = Field(9464, ge=1, le=65535)
    # Per client (its key's, else its address): `burst` requests per `burst / rps` seconds; over
    # it, 429 with Retry-After. `shared`: one window per client for every worker and replica,
    # in the cache Redis (one call per request); `process`: a token bucket per process, so the
    # limit is that times the processes (also the fallback while the cache Redis fails).
    rate_limit_rps: float = Field(200.0, gt=0)
    rate_limit_burst: int = Field(400, ge=1)
    rate_limit_scope: Literal["shared", "process"] = "shared"
    # After this many consecutive Triton failures, skip Triton for `breaker_reset_s` (fallback
    # pages at once, no worker tied up), then let one request try again.
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_s: float = Field(5.0, gt=0)
    # /readyz asks each backend under this deadline and reuses the answer this long.
    probe_timeout_s: float = Field(0.5, gt=0, le=1.0)
    probe_cache_s: float = Field(1.0, ge=0)
    cors_origins: list[str] = []  # CORS stays off unless origins are configured
    # Users the page at `/` offers to pick from (0: none; the page still takes any typed id).
    ui_example_users: int = Field(8, ge=0, le=100)


MIN_SECRET = 16
SHIPPED = {"", "change-me", "change-me-too"}  # defaults earlier releases shipped
DEV_TOKEN_SECRET = "genrec-dev-mode-token-secret"  # dev_mode without a secret: all workers share it


def unsafe(settings: Settings) -> list[str]:
    """What keeps the gateway from starting outside dev mode: each secret that is missing,
    one of the old shipped defaults, or shorter than MIN_SECRET characters."""
    if settings.dev_mode:
        return []
    secrets = {"GENREC_TOKEN_SECRET": settings.token_secret}
    if settings.api_key is not None or not settings.clients:  # clients' keys may stand for it
        secrets["GENREC_API_KEY"] = settings.api_key
    return [
        f"{name} is {'not set' if not value or not value.get_secret_value() else 'too weak'}"
        for name, value in secrets.items()
        if value is None
        or value.get_secret_value() in SHIPPED
        or len(value.get_secret_value()) < MIN_SECRET
    ]


def token_secret(settings: Settings) -> bytes:
    """The key page tokens are signed with: the configured one, or (dev mode without one) a
    built-in one, the same in every worker so any of them verifies another's tokens."""
    secret = settings.token_secret.get_secret_value()
    return (secret or DEV_TOKEN_SECRET).encode()


def redis_password(settings: Settings) -> str | None:
    """The password to send, when one is set; else the URL's own (or none)."""
    return settings.redis_password.get_secret_value() if settings.redis_password else None


def cache_redis_target(settings: Settings) -> tuple[str, str | None]:
    """The cache Redis's URL and password to send: its own, or (no URL of its own) the event
    store's."""
    if not settings.cache_redis_url:
        return settings.redis_url, redis_password(settings)
    password = settings.cache_redis_password
    return settings.cache_redis_url, password.get_secret_value() if password else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
