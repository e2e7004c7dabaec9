"""The gateway's HTTP server limits (`service.server`), over raw sockets against gateways of
their own on the test stack's Redis and Triton: oversized headers get 431, a request that does
not arrive in time 408 (idle, slow headers, slow body), connections past the per-worker cap 503;
X-Forwarded-For is believed from configured proxies only."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.serving.conftest import gateway

READ_TIMEOUT_S = 1.0
LIMITS = {
    "GENREC_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    "GENREC_MAX_HEADER_BYTES": "4096",
    "GENREC_MAX_CONNECTIONS": "4",
}
SLOW = {"GENREC_RATE_LIMIT_RPS": "0.5", "GENREC_RATE_LIMIT_BURST": "2"}  # every route


@pytest.fixture(scope="module")
def port(stack, tmp_path_factory):
    with gateway(stack, tmp_path_factory.mktemp("limits"), **LIMITS) as (port, _):
        yield port


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    return s


def _answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def _response(s: socket.socket) -> bytes:
    """One whole response of a kept-alive connection (its head and content-length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))  # fmt: skip
    while len(body) < length:
        body += s.recv(65536)
    return head


def test_requests_within_the_limits_are_served_on_one_connection(port):
    with _connect(port) as s:
        for _ in range(2):  # keep-alive: the deadline restarts with each request
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert _response(s).startswith(b"HTTP/1.1 200")
            time.sleep(READ_TIMEOUT_S * 0.6)


def test_oversized_headers_get_431_and_the_connection_closes(port):
    with _connect(port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
        answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 431") and b"a" * 100 not in answer


@pytest.mark.parametrize("kind", ["idle", "slow headers", "slow body"])
def test_a_request_that_does_not_arrive_in_time_gets_408(port, kind):
    with _connect(port) as s:
        t0 = time.monotonic()
        if kind == "slow body":
            head = b"POST /v1/recommendations HTTP/1.1\r\nHost: t\r\ncontent-length: 100\r\n"
            s.sendall(head + b"content-type: application/json\r\n\r\n{")  # 1 byte of 100
        elif kind == "slow headers":
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            for i in range(int(4 * READ_TIMEOUT_S / 0.2)):  # a byte-sized header every 0.2 s
                time.sleep(0.2)
                try:
                    s.sendall(b"X-%d: y\r\n" % i)
                except OSError:  # closed by the server: the point
                    break
        answer = _answer(s)
        waited = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert READ_TIMEOUT_S * 0.9 <= waited <= READ_TIMEOUT_S + 3.0


def test_connections_past_the_cap_get_503_at_once(port):
    held = [_connect(port) for _ in range(4)]  # the cap: 4 per worker
    try:
        time.sleep(0.2)
        with _connect(port) as extra:
            t0 = time.monotonic()
            answer = _answer(extra)
            assert answer.startswith(b"HTTP/1.1 503") and time.monotonic() - t0 < 1.0
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)  # once they close, new connections are served again
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


def _statuses(port: int, forwarded: bool) -> list[int]:
    """Six page requests, each claiming another client address when `forwarded`."""
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for i in range(6):
            headers = {"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {}
            out.append(client.post("/v1/recommendations", json={"user_id": "U00001"},
                                   headers=headers).status_code)  # fmt: skip
    return out


def test_forwarded_addresses_from_an_untrusted_peer_do_not_escape_the_rate_limit(stack, tmp_path):
    with gateway(stack, tmp_path, **LIMITS, **SLOW) as (untrusted, _):
        assert _statuses(untrusted, forwarded=True).count(429) >= 3  # one bucket: the peer's


def test_forwarded_addresses_from_a_trusted_proxy_key_the_rate_limit(stack, tmp_path):
    with gateway(stack, tmp_path, **LIMITS, **SLOW, GENREC_TRUSTED_PROXIES='["127.0.0.1"]') as (
        trusted,
        _,
    ):
        assert 429 not in _statuses(trusted, forwarded=True)  # six clients, one request each
        assert _statuses(trusted, forwarded=False).count(429) >= 3
