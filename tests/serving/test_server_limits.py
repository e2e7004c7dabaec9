"""The gateway's HTTP server (`service.server`) against a gateway of its own on the test
stack's Redis and Triton: requests within the limits are served on one kept-alive connection
(the read deadline restarts with each), and X-Forwarded-For keys the rate limit when it comes
from a configured proxy. The refusals (431, 408 for idle / slow headers / slow bodies, 503 past
the connection cap, untrusted forwarded addresses) are attacks of `genrec bench-security`,
run by tests/serving/test_security.py."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.serving.conftest import gateway

READ_TIMEOUT_S = 1.0
SETTINGS = {
    "GENREC_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    "GENREC_RATE_LIMIT_RPS": "0.5",  # every route, so each client has two requests at once
    "GENREC_RATE_LIMIT_BURST": "2",
    "GENREC_TRUSTED_PROXIES": '["127.0.0.1"]',  # this test is the proxy
}


@pytest.fixture(scope="module")
def port(stack, tmp_path_factory):
    with gateway(stack, tmp_path_factory.mktemp("limits"), **SETTINGS) as (port, _):
        yield port


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
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(10)
        for _ in range(2):  # each request well inside the read deadline, the pair beyond it
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n")
            assert _response(s).startswith(b"HTTP/1.1 200")
            time.sleep(READ_TIMEOUT_S * 0.6)


def _statuses(port: int, forwarded: bool) -> list[int]:
    """Six page requests, each claiming another client address when `forwarded`."""
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for i in range(6):
            headers = {"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {}
            out.append(client.post("/v1/recommendations", json={"user_id": "U00001"},
                                   headers=headers).status_code)  # fmt: skip
    return out


def test_forwarded_addresses_from_a_trusted_proxy_key_the_rate_limit(port):
    assert 429 not in _statuses(port, forwarded=True)  # six clients, one request each
    assert _statuses(port, forwarded=False).count(429) >= 3  # the proxy's own address
