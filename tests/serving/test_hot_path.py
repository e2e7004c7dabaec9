"""`HotPath` serves pages without FastAPI's router, and hands everything else to the route:
the gateway app in this process, against the stack's real Redis and Triton, called over ASGI
directly so each call's scope shows whether FastAPI's router saw it (it adds the `route`)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from service.main import create_app
from service.settings import Settings

from .conftest import API_KEY

PATH = "/v1/recommendations"
FORGED = b"0" * 24 + b".1." + b"A" * 24  # a well-formed page token nobody issued


async def call(app, body: bytes, key: str | None = API_KEY, ctype: bytes = b"application/json"):
    """One POST → (status, headers, body, whether FastAPI's router handled it). `key` may be
    several keys, comma-separated: one X-API-Key header each."""
    headers = [(b"host", b"test"), (b"content-type", ctype)]
    headers += [(b"x-api-key", k.encode()) for k in key.split(",")] if key else []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
        "headers": headers,
    }  # fmt: skip
    # The body in two messages: the hot path must read it all, and replay it all.
    messages = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # no disconnect while the answer is written

    sent = []

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start, payload = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), payload, "route" in scope


@pytest.fixture
def app(stack, monkeypatch):
    for name, value in stack.settings_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GENREC_API_KEY", API_KEY)
    monkeypatch.setenv("GENREC_ANONYMOUS_READS", "false")
    return create_app(Settings())


def test_pages_skip_the_router_and_match_the_route(app, small_synthetic):
    user = small_synthetic.users[3].id

    async def both():
        async with app.router.lifespan_context(app):
            body = orjson.dumps({"user_id": user, "page_size": 6})
            first = await call(app, body, ctype=b"Application/JSON; charset=utf-8")
            token = orjson.loads(first[2])["next_page_token"]
            second = await call(app, orjson.dumps({"user_id": user, "page_token": token}))
            # The same page through the route: JSON under a type the hot path leaves to it.
            routed = await call(
                app, orjson.dumps({"user_id": user, "page_size": 6}), ctype=b"application/x+json"
            )
            return first, second, routed

    first, second, routed = asyncio.run(both())
    for status, headers, _, via_router in (first, second):
        assert (status, via_router) == (200, False)
        assert headers[b"content-type"] == b"application/json"
    status, headers, payload, via_router = routed
    assert (status, via_router) == (200, True)
    page, again = orjson.loads(first[2]), orjson.loads(payload)
    assert len(page["items"]) == 6
    # Same items, ranks, scores, version (each chain has its own token).
    assert {**page, "next_page_token": None} == {**again, "next_page_token": None}
    assert int(headers[b"content-length"]) == len(payload)
    shown = {i["item_id"] for i in page["items"]}
    assert not shown & {i["item_id"] for i in orjson.loads(second[2])["items"]}


@pytest.mark.parametrize(
    "body, key, status",
    [
        (b'{"user_id": "u1", "page_size": 0}', API_KEY, 422),  # fails validation
        (b'{"user_id": "u1", "page_size": 5', API_KEY, 422),  # not JSON
        (b'{"user_id": "u1", "page_token": "%s"}' % FORGED, API_KEY, 403),  # not u1's token
        (b'{"user_id": "u1"}', None, 401),  # no key
        (b'{"user_id": "u1"}', "not-a-key-of-anyone", 401),
        (b'{"user_id": "u1"}', f"not-a-key-of-anyone,{API_KEY}", 401),  # the first one counts
    ],
)
def test_everything_else_is_answered_by_the_route(app, body, key, status):
    async def one():
        async with app.router.lifespan_context(app):
            return await call(app, body, key)

    got, _, payload, via_router = asyncio.run(one())
    assert (got, via_router) == (status, True)
    assert "detail" in orjson.loads(payload)
