"""Pure-ASGI middleware (no per-request task overhead): request metrics, a body-size cap and a
per-client rate limit."""

from __future__ import annotations

import asyncio
import time

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.breaker import Breaker
from service.clients import Clients
from service.coalesce import Coalescer
from service.metrics import HTTP_LATENCY, HTTP_REQUESTS


async def reply(send, status: int, detail: str, headers: list | None = None) -> None:
    """A JSON error response straight from middleware: `{"detail": ...}` like the app's."""
    body = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for bodies over `max_bytes`, by Content-Length or, when streamed, as they arrive."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await reply(send, 413, f"request body over {self.max_bytes} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await reply(send, 413, f"request body over {self.max_bytes} bytes")


class _TooLarge(BaseException):
    """Raised from `receive` mid-body. A BaseException on purpose: FastAPI turns any Exception
    while reading a body into a 400, and this must reach `BodyLimit` to become the 413."""


class Metrics:
    """Counts and times every HTTP request by route template (unknown paths share one label,
    so scanners cannot blow up the label set)."""

    def __init__(self, app, routes: set[str]):
        self.app, self.routes = app, routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope["path"] if scope["path"] in self.routes else "unmatched"
        status = 500
        start = time.perf_counter()

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            HTTP_LATENCY.labels(route, scope["method"]).observe(time.perf_counter() - start)
            HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()


class TokenBuckets:
    """A token bucket per client, in this process: the rate limit while the shared one's Redis
    fails (or when limits are configured per process)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000):
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last refill)

    def wait(self, client: str) -> float:
        """0 when allowed, else seconds until a token is back."""
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self.buckets) >= self.max_clients and client not in self.buckets:
            self.buckets.clear()  # bounded memory: forget everyone rather than grow forever
        self.buckets[client] = (tokens - 1, now)
        return 0.0


# A sliding-window counter per client (the approximation `limits` and Cloudflare use): this
# window's count plus the last window's, weighted by how much of it still overlaps the sliding
# window, must stay within the limit. One call answers many clients, in order (a client twice
# in one call is counted twice), on Redis's clock, so replicas with skewed clocks agree.
# KEYS: one per client; ARGV: limit, window seconds → per client, 0 (allowed, counted) or the
# milliseconds until a request would be allowed.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local slot = math.floor(now / window)
local into = now - slot * window
local waits = {}
for i, key in ipairs(KEYS) do
  local current = key .. ':' .. slot
  local last = tonumber(redis.call('GET', key .. ':' .. (slot - 1)) or '0')
  local count = tonumber(redis.call('GET', current) or '0')
  if count + 1 > limit then
    waits[i] = math.ceil(1000 * (window - into))
  elseif last * (1 - into / window) + count + 1 > limit then
    -- until enough of the last window has slid out: last * (1 - s / window) = limit - count - 1
    local slid = window * (1 - (limit - count - 1) / last)
    waits[i] = math.max(1, math.ceil(1000 * (slid - into)))
  else
    redis.call('INCR', current)
    redis.call('EXPIRE', current, 2 * window)
    waits[i] = 0
  end
end
return waits
"""


class SharedWindows:
    """The limit every gateway worker and replica shares: a sliding-window counter per client
    in Redis, `burst` requests per `burst / rate` seconds, so the limit a client meets is the
    configured one, not that times the number of processes behind the address.

    Checks that wait in one worker together share one script call (`Coalescer`): a call per
    request cost more gateway CPU than anything else a page does, and, answering at different
    times, it scattered the requests behind it into smaller Triton and Redis batches (`limits`,
    used before, has no batch call). A Redis that fails or stalls (beyond REDIS_TIMEOUT_S)
    opens the breaker, and the local buckets stand in until it closes again."""

    REDIS_TIMEOUT_S = 0.2  # a stalled Redis delays no request by more
    KEY_PREFIX = "genrec:limits"  # every window's key starts so

    def __init__(
        self, redis_url: str, password: str | None, rate: float, burst: int, breaker: Breaker
    ):
        # Opened lazily on the first call, so it can be built before the event loop runs.
        redis = Redis.from_url(
            redis_url, password=password, socket_timeout=self.REDIS_TIMEOUT_S,
            socket_connect_timeout=self.REDIS_TIMEOUT_S,
        )  # fmt: skip
        self._script = redis.register_script(_HIT)
        self.limit, self.window_s = burst, max(1, round(burst / rate))
        self.breaker = breaker
        self._hits = Coalescer(self._hit, max_batch=64, max_calls=4)

    async def wait(self, client: str) -> float | None:
        """0 when allowed, seconds to wait when not; None when Redis cannot say."""
        if not self.breaker.allow():
            return None
        try:
            wait = await self._hits(client)
        except (RedisError, OSError):
            self.breaker.failed()
            return None
        except asyncio.CancelledError:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        return wait

    async def _hit(self, clients: list[str]) -> list[float]:
        keys = [f"{self.KEY_PREFIX}:{client}" for client in clients]
        waits_ms = await self._script(keys=keys, args=[self.limit, self.window_s])
        return [ms / 1000 for ms in waits_ms]


class RateLimit:
    """Per-client rate limit, so one flooding client gets 429s (with Retry-After) while
    everyone else is served: shared through Redis by every worker and replica (`SharedWindows`),
    or per process (`TokenBuckets`) when configured so or while that Redis fails. A client is
    the one its X-API-Key names (`service.clients`), else its address: clients behind one proxy
    keep limits of their own, and a made-up key buys no fresh one."""

    def __init__(self, app, local: TokenBuckets, shared: SharedWindows | None, clients: Clients):
        self.app, self.local, self.shared, self.clients = app, local, shared, clients

    def _who(self, scope) -> str:
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        client = self.clients.identify(key.decode("latin-1")) if key else None
        if client is not None:
            return f"key:{client.name}"
        return f"addr:{scope['client'][0]}" if scope.get("client") else "addr:unknown"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = self._who(scope)
        wait = None if self.shared is None else await self.shared.wait(client)
        if wait is None:
            wait = self.local.wait(client)
        if wait:
            retry = str(max(1, round(wait)))
            headers = [(b"retry-after", retry.encode())]
            return await reply(send, 429, "too many requests; slow down", headers)
        return await self.app(scope, receive, send)
