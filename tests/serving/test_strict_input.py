"""Input that standard JSON tooling never sends (NaN, Infinity, overflowing numbers, lone
surrogates), coerced types, look-alike ids, huge and streamed bodies: each gets a 4xx that
names the problem without echoing the input, never a 500 (Schemathesis cannot generate these,
so they are listed by hand)."""

from __future__ import annotations

import pytest

from genrec.bench.security import EVENTS, JSON, REC, STRICT  # the cases bench-security sends


@pytest.mark.parametrize(
    ("route", "body"), [(route, body) for _, route, body in STRICT], ids=[n for n, *_ in STRICT]
)
def test_non_standard_json_gets_a_422_without_its_input(client, route, body):
    r = client.post(route, content=body.encode(), headers=JSON)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list) and "input" not in r.text


def test_a_long_id_is_refused_without_coming_back(client):
    user = "u" * 10_000
    r = client.post(REC, json={"user_id": user})
    assert r.status_code == 422 and user[:300] not in r.text and len(r.content) < 2_000


def test_many_unknown_keys_get_a_short_answer(client):
    body = {"user_id": "u1"} | {f"k{n}": n for n in range(1_000)}
    r = client.post(REC, json=body)
    assert r.status_code == 422 and len(r.json()["detail"]) == 20 and len(r.content) < 5_000


def test_a_streamed_body_over_the_limit_gets_413(client):
    def chunks():
        for _ in range(40):
            yield b" " * 1024  # 40 KiB with no Content-Length: chunked transfer

    r = client.post(EVENTS, content=chunks(), headers=JSON)
    assert r.status_code == 413 and "over" in r.json()["detail"]


def test_the_stack_logged_no_unhandled_error(client, stack):
    client.post(REC, content=b'{"user_id": "u1", "page_size": NaN}', headers=JSON)
    log = (stack.workdir / "logs" / "gateway.log").read_text()
    assert "unhandled error" not in log and "Traceback" not in log


def test_no_token_reaches_past_the_last_page(client, stack, small_synthetic):
    """Signed with the test stack's secret, as a leaked secret would let anyone sign: page 21
    (and 9999) of a 20-page chain is refused before any chain state is read."""
    from service.pages import Cursor, PageChains

    user = small_synthetic.users[90].id
    chains = PageChains(None, stack.token_secret.encode(), 3600)  # the stack's generated one
    for page in (21, 9999):
        token = chains.token(Cursor("0" * 24, page), user)
        r = client.post(REC, json={"user_id": user, "page_token": token})
        assert r.status_code == 404 and "ends after 20 pages" in r.json()["detail"]
