"""The gateway's HTTP server: `python -m service.server --port 8000 --workers 2`.

uvicorn with the limits a public port needs and uvicorn lacks. Its httptools protocol reads
request headers of any size (an 8 MiB header is accepted) and never times out a connection that
is still sending its request: a client that opens a connection and sends nothing, or a header
or a body a byte at a time, holds it forever. `GuardedProtocol` adds, per connection:

- a cap on the request line and headers together (`max_header_bytes`) → 431;
- a deadline for a whole request to arrive, from the connection's opening or the request's
  first byte to its last (`request_read_timeout_s`) → 408 and the connection closed;
- a cap on open connections per worker (`max_connections`) → 503 and closed at once.

Prometheus metrics are served on `metrics_port`, not the API's. Forwarded headers
(`X-Forwarded-For`) are believed only from `trusted_proxies`; by default from
no one, so a client cannot choose the address its rate limit is keyed on. The limits are
settings (`service.settings`), so the chart and a local stack set them the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn
from prometheus_client import start_http_server
from pydantic import ValidationError
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service import metrics
from service.settings import get_settings

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large",
           503: b"Service Unavailable"}  # fmt: skip


class _Refused(Exception):
    """Raised inside the parser's callbacks to stop parsing a request that is refused."""


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header cap, a request-read deadline and a
    connection cap (module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._limits = get_settings()  # read once per process
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None
        self._header_bytes = 0
        if len(self.connections) > self._limits.max_connections:
            self._refuse(503, "too many connections")
            return
        self._arm()  # the first request must arrive within the deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is None:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; a refusal raised in a callback is one too."""
        if self._refusal is not None:
            self._respond(*self._refusal)
        else:
            super().send_400_response(msg)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_message_complete(self) -> None:
        self._disarm()  # the whole request is in: the app's time is not the client's
        super().on_message_complete()

    # Limits
    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._limits.max_header_bytes:
            self._refusal = (
                431,
                f"request line and headers over {self._limits.max_header_bytes} bytes",
            )
            raise _Refused  # httptools turns it into a parser error: send_400_response answers

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(
                self._limits.request_read_timeout_s, self._read_timed_out
            )

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self._refuse(408, "the request did not arrive in time")

    def _refuse(self, status: int, reason: str) -> None:
        self._refusal = (status, reason)
        self._respond(status, reason)

    def _respond(self, status: int, reason: str) -> None:
        """A plain-text answer, and the connection closed: nothing of the request reaches the
        app, so no state is half-written."""
        self._disarm()
        if self.transport.is_closing():
            return
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, REASONS[status], len(body), body)
        )
        self.transport.close()


def run(host: str, port: int, workers: int) -> None:
    settings = get_settings()
    trusted = settings.trusted_proxies
    # Metrics from this (the supervising) process, on their own port: a thread that reads
    # every worker's figures, so the public port serves the API alone.
    start_http_server(settings.metrics_port, addr=host, registry=metrics.registry())
    uvicorn.run(
        "service.main:app", host=host, port=port, workers=workers,
        http="service.server:GuardedProtocol", loop="uvloop", access_log=False,
        proxy_headers=bool(trusted), forwarded_allow_ips=",".join(trusted) or None,
        timeout_keep_alive=settings.keep_alive_timeout_s,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        get_settings()
    except ValidationError as e:  # one line per bad setting, its name as the environment has it
        for error in e.errors():
            name = "GENREC_" + "_".join(map(str, error["loc"][:1])).upper()
            where = ".".join(map(str, error["loc"][1:]))
            print(f"error: {name}{f' ({where})' if where else ''}: {error['msg']}", file=sys.stderr)
        sys.exit(2)
    run(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
