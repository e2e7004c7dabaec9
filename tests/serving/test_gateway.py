"""End to end through the real servers: HTTP → gateway → Redis + Triton → decoder."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from redis import Redis

from service.pages import Cursor, FirstPage, PageChains, chain_key

REC = "/v1/recommendations"
REPO = Path(__file__).resolve().parents[2]


def _ids(page: dict) -> list[str]:
    return [item["item_id"] for item in page["items"]]


def test_a_page_of_recommendations(client, small_synthetic):
    user = small_synthetic.users[3].id
    r = client.post(REC, json={"user_id": user, "page_size": 7})
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 7 and page["page"] == 1
    assert page["model_version"] == "genrec:1" and page["fallback"] is False
    assert [i["rank"] for i in page["items"]] == list(range(1, 8))
    scores = [i["score"] for i in page["items"]]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    known = {item.id: item.title for item in small_synthetic.items}
    assert all(known[i["item_id"]] == i["title"] for i in page["items"])
    assert len(set(_ids(page))) == 7 and page["next_page_token"]


def test_five_pages_never_repeat_and_refetch_is_stable(client, small_synthetic):
    user = small_synthetic.users[10].id
    tokens, pages, token = [], [], None
    for n in range(1, 6):
        r = client.post(REC, json={"user_id": user, "page_size": 10, "page_token": token})
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["page"] == n and len(page["items"]) == 10
        assert page["items"][0]["rank"] == 10 * (n - 1) + 1
        tokens.append(token)
        pages.append(_ids(page))
        token = page["next_page_token"]
    shown = [i for p in pages for i in p]
    assert len(shown) == len(set(shown)) == 50
    for n in (2, 4):  # any page again, by its token: the same items in the same order
        again = client.post(REC, json={"user_id": user, "page_token": tokens[n - 1]}).json()
        assert _ids(again) == pages[n - 1]


def test_a_page_size_change_keeps_the_chain(client, small_synthetic):
    user = small_synthetic.users[13].id
    first = client.post(REC, json={"user_id": user, "page_size": 5}).json()
    second = client.post(
        REC, json={"user_id": user, "page_size": 10, "page_token": first["next_page_token"]}
    ).json()
    assert len(second["items"]) == 10 and not set(_ids(first)) & set(_ids(second))
    assert [i["rank"] for i in second["items"]] == list(range(6, 16))
    # Page 2 again at another size: as first served, and the chain goes on from it.
    body = {"user_id": user, "page_size": 3, "page_token": first["next_page_token"]}
    again = client.post(REC, json=body).json()
    assert _ids(again) == _ids(second) and again["next_page_token"]
    third = client.post(
        REC, json={"user_id": user, "page_size": 3, "page_token": again["next_page_token"]}
    ).json()
    assert len(third["items"]) == 3 and not set(_ids(third)) & set(_ids(first) + _ids(second))


def test_slate_pages_are_generated_whole_and_never_repeat(client, small_synthetic):
    user = small_synthetic.users[12].id
    shown, token = [], None
    for n in (1, 2):
        body = {"user_id": user, "page_size": 10, "mode": "slate", "page_token": token}
        r = client.post(REC, json=body)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["page"] == n and len(page["items"]) == 10 and page["fallback"] is False
        assert all(i["score"] <= 0 for i in page["items"])
        shown += _ids(page)
        token = page["next_page_token"]
    assert len(shown) == len(set(shown)) == 20  # within and across pages
    bad = client.post(REC, json={"user_id": user, "mode": "whole"})
    assert bad.status_code == 422 and "mode" in bad.text


def test_an_event_changes_the_next_page(client, redis, small_synthetic):
    user = small_synthetic.users[20].id
    before = _ids(client.post(REC, json={"user_id": user, "page_size": 10}).json())
    length = redis.llen(f"genrec:hist:{user}")
    # The user turns to a shelf (category) none of their recommendations came from.
    shelf = {item.id: item.categories[-1] for item in small_synthetic.items}
    other = next(c for c in sorted(set(shelf.values())) if c not in {shelf[i] for i in before})
    new_items = [i for i, c in shelf.items() if c == other][:3]
    for n, item in enumerate(new_items):
        event = {"event_id": f"e-{user}-{n}", "user_id": user, "item_id": item, "type": "click"}
        r = client.post("/v1/events", json=event)
        ack = {"event_id": event["event_id"], "duplicate": False, "in_history": True}
        assert r.status_code == 200 and r.json() == ack
        retry = client.post("/v1/events", json=event)  # a client retry appends nothing
        assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert redis.llen(f"genrec:hist:{user}") == length + 3
    assert redis.lrange(f"genrec:hist:{user}", -3, -1) == [i.encode() for i in new_items]
    after = _ids(client.post(REC, json={"user_id": user, "page_size": 10}).json())
    assert after != before


def test_a_reused_event_id_with_other_content_is_a_conflict(client, small_synthetic):
    user, items = small_synthetic.users[30].id, small_synthetic.items
    event = {"event_id": "conflict-1", "user_id": user, "item_id": items[0].id, "type": "click"}
    assert client.post("/v1/events", json=event).status_code == 200
    r = client.post("/v1/events", json=event | {"item_id": items[1].id})
    assert r.status_code == 409 and "other content" in r.json()["detail"]


def test_a_user_without_history_gets_a_page(client):
    page = client.post(REC, json={"user_id": "someone-new", "page_size": 5}).json()
    assert len(page["items"]) == 5  # decoded from the average user's SCID and an empty history


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({}, 422, "user_id"),
        ({"user_id": "u", "page_size": 0}, 422, "page_size"),
        ({"user_id": "u", "page_size": 51}, 422, "page_size"),
        ({"user_id": "u", "page_size": "ten"}, 422, "page_size"),
        ({"user_id": "u", "pagesize": 5}, 422, "pagesize"),
        ({"user_id": "u" * 200}, 422, "user_id"),
        ({"user_id": "u", "page_token": "garbage"}, 422, "page_token"),
        ({"user_id": "u", "page_token": f"{'0' * 24}.2.{'A' * 24}"}, 403, "not issued"),
    ],
)
def test_bad_recommendation_requests(client, body, status, reason):
    r = client.post(REC, json=body)
    assert r.status_code == status and reason in r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text


def test_a_token_of_another_user_or_tampered_is_refused(client, small_synthetic):
    a, b = small_synthetic.users[40].id, small_synthetic.users[41].id
    token = client.post(REC, json={"user_id": a}).json()["next_page_token"]
    assert client.post(REC, json={"user_id": b, "page_token": token}).status_code == 403
    chain, page, mac, first = token.split(".")  # page 2's token carries page 1
    edited = FirstPage.decode(first)
    edited = FirstPage(edited.items[1:], edited.served_at).encode()  # shown again on page 2
    for forged in (f"{chain}.{int(page) + 1}.{mac}.{first}", f"{chain}.{page}.{mac}.{edited}"):
        r = client.post(REC, json={"user_id": a, "page_token": forged})
        assert r.status_code == 403 and "not issued" in r.json()["detail"]


def test_page_one_leaves_no_state_until_page_two_is_asked_for(client, stack, small_synthetic):
    """A chain's state is written when its second page is served (anonymous traffic that only
    reads first pages leaves nothing in Redis); from then on it is a stored chain."""
    redis = Redis.from_url(stack.cache_redis_url)
    user = small_synthetic.users[42].id
    before = set(redis.scan_iter(chain_key("*")))
    first = client.post(REC, json={"user_id": user, "page_size": 4}).json()
    assert set(redis.scan_iter(chain_key("*"))) == before
    token = first["next_page_token"]
    second = client.post(REC, json={"user_id": user, "page_size": 4, "page_token": token}).json()
    chain = chain_key(token.split(".")[0]).encode()
    assert set(redis.scan_iter(chain_key("*"))) == before | {chain}
    assert redis.hget(chain, "p1") and redis.hget(chain, "p2")
    assert not set(_ids(first)) & set(_ids(second))
    again = client.post(REC, json={"user_id": user, "page_size": 4, "page_token": token}).json()
    assert _ids(again) == _ids(second)


def test_a_first_page_token_expires_with_the_chain(stack, small_synthetic):
    """Page 2's token outlives no stored chain: `page_ttl_s` after page 1 it is refused."""
    user = small_synthetic.users[43].id
    chains = PageChains(None, stack.token_secret.encode(), 3600)
    stale = FirstPage(("x",), int(time.time()) - 3601)
    token = chains.token(Cursor("0" * 24, 2, stale), user)
    r = httpx.post(stack.url + REC, json={"user_id": user, "page_token": token})
    assert r.status_code == 404 and "expired" in r.json()["detail"]


def test_bad_events(client, small_synthetic):
    user, item = small_synthetic.users[0].id, small_synthetic.items[0].id
    ok = {"event_id": "x1", "user_id": user, "item_id": item, "type": "click"}
    cases = [
        (ok | {"item_id": "no-such-item"}, 404, "unknown item_id"),
        (ok | {"user_id": "no-such-user"}, 404, "unknown user_id"),
        (ok | {"type": "like"}, 422, "type"),
        ({k: v for k, v in ok.items() if k != "event_id"}, 422, "event_id"),
        (ok | {"ts": "yesterday"}, 422, "ts"),
    ]
    for body, status, reason in cases:
        r = client.post("/v1/events", json=body)
        assert r.status_code == status and reason in r.text, (body, r.text)
        assert "Traceback" not in r.text
    r = client.post(
        "/v1/events", content=b'{"event_id": "' + b"x" * 20_000 + b'"}',
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 413 and "detail" in r.json()
    json_type = {"content-type": "application/json"}
    r = client.post("/v1/events", content=b"{not json", headers=json_type)
    assert r.status_code == 422 and "Traceback" not in r.text


def test_metrics_count_requests_and_no_invalid_ids(client, stack):
    client.post(REC, json={"user_id": "metrics-user"})
    assert client.get("/metrics").status_code == 404  # not on the public port
    text = httpx.get(stack.metrics_url).text
    ok = 'genrec_http_requests_total{method="POST",route="/v1/recommendations",status="200"}'
    assert ok in text
    assert "genrec_invalid_ids_total 0.0" in text
    assert "genrec_triton_request_duration_seconds_count" in text
    assert "genrec_prompt_tokens_bucket" in text
    assert 'genrec_filtered_items_total{reason="shown"}' in text


def test_dashboard_queries_only_exported_metrics(client, stack):
    """Every metric the Grafana dashboard plots is one the gateway or Triton exports."""
    exported = httpx.get(stack.metrics_url).text
    exported += httpx.get(f"http://127.0.0.1:{stack.triton_metrics}/metrics").text
    dashboard = json.loads((REPO / "service" / "grafana" / "genrec.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b((?:genrec|nv)_[a-z_]+)\b", e)}
    assert len(names) >= 10
    missing = {n for n in names if not re.search(rf"^{n}(\{{| )", exported, re.MULTILINE)}
    assert not missing


def _probe(client) -> tuple[dict, float]:
    time.sleep(1.05)  # past the probe's cached answer
    start = time.monotonic()
    r = client.get("/readyz")
    assert r.status_code == 200
    return r.json(), time.monotonic() - start


def test_readyz_stays_ready_within_a_second_while_triton_is_down_or_hung(
    client, stack, small_synthetic
):
    """Readiness means "can serve a page", which fallback pages keep true: a Triton outage
    must not turn every gateway NotReady, and a hung Triton must not hang the probe."""
    ready = {"ready": True, "redis": True, "model": True, "serving": "model"}
    assert client.get("/readyz").json() == ready
    user = small_synthetic.users[5].id
    stack.triton.stop()
    try:
        body, took = _probe(client)
        assert body == ready | {"model": False, "serving": "popularity"} and took < 1.0
        page = client.post(REC, json={"user_id": user}).json()
        assert page["fallback"] is True and len(page["items"]) == 10  # degraded, not an error
    finally:
        stack.triton.start()
    deadline = time.monotonic() + 5  # the gateway reconnects by itself, within seconds
    while not client.get("/readyz").json()["model"]:
        assert time.monotonic() < deadline, "the gateway did not see Triton come back"
        time.sleep(0.2)
    os.kill(stack.triton.process.pid, signal.SIGSTOP)  # alive, listening, answering nothing
    try:
        body, took = _probe(client)
        assert body["model"] is False and took < 1.0
    finally:
        os.kill(stack.triton.process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while client.post(REC, json={"user_id": user}).json()["fallback"]:  # the breaker re-closes
        assert time.monotonic() < deadline, "pages did not come from the model again"
        time.sleep(0.1)
