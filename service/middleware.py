"""Pure-ASGI middleware (no per-request task overhead): request metrics, a body-size cap and a
per-client rate limit."""

from __future__ import annotations

import time

import orjson

from service.clients import Clients
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


class RateLimit:
    """Per-client rate limit: a token bucket per client in each gateway process, so one
    flooding client gets 429s (with Retry-After) while everyone else is served. A client is
    the one its X-API-Key names (`service.clients`), else its address: clients behind one proxy
    keep buckets of their own, and a made-up key buys no fresh one."""

    def __init__(self, app, rate: float, burst: int, clients: Clients, max_clients: int = 100_000):
        self.app, self.rate, self.burst, self.max_clients = app, rate, burst, max_clients
        self.clients = clients
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last refill)

    def _allow(self, client: str) -> float:
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

    def _who(self, scope) -> str:
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        client = self.clients.identify(key.decode("latin-1")) if key else None
        if client is not None:
            return f"key:{client.name}"
        return f"addr:{scope['client'][0]}" if scope.get("client") else "addr:unknown"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        wait = self._allow(self._who(scope))
        if wait:
            retry = str(max(1, round(wait)))
            headers = [(b"retry-after", retry.encode())]
            return await reply(send, 429, "too many requests; slow down", headers)
        return await self.app(scope, receive, send)
