"""`genrec bench-security`: an attacker's requests against the real gateway on loopback, one
row per attack with what it expected, what it observed and whether it held.

Each attack is a function registered with `@attack(name, point, expected)`; `point` is the
item of the security review (issue #31) it belongs to. Each is bounded: at most a few hundred
requests, a few seconds. The gateway runs with `SETTINGS` (short timeouts and small caps, so
the limits show within seconds); `Target` says where it is and what it knows.

Pages are read with a read-only client's key (`READ_KEY`, made per run), as a shop's frontend
would; events with the operator's key. A second gateway process (`Target.replica_url`) on the
same Redis stands for another replica, so that limits are seen to be shared.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from redis import Redis

from genrec.bench.report import markdown_table
from service.clients import digest
from service.middleware import SharedWindows
from service.pages import Cursor, FirstPage, PageChains, chain_key

REC, EVENTS = "/v1/recommendations", "/v1/events"
JSON = {"content-type": "application/json"}

# The gateway's settings for the run (the limits small enough to reach quickly).
SETTINGS = {
    "GENREC_RATE_LIMIT_RPS": "50",
    "GENREC_RATE_LIMIT_BURST": "100",
    "GENREC_MAX_PAGES": "3",
    "GENREC_REQUEST_READ_TIMEOUT_S": "2",
    "GENREC_MAX_CONNECTIONS": "16",
    "GENREC_MAX_HEADER_BYTES": "16384",
    "GENREC_ANONYMOUS_READS": "false",
}
READ_KEY = secrets.token_urlsafe(24)  # a frontend's: pages and histories, no events
SETTINGS["GENREC_CLIENTS"] = json.dumps({"frontend": {"sha256": digest(READ_KEY),
                                                      "scopes": ["read"]}})  # fmt: skip


@dataclass
class Target:
    url: str
    host: str
    port: int
    api_key: str
    user: str  # a user with a history
    item: str
    redis_url: str  # the event store
    cache_redis_url: str  # page chains and rate-limit windows
    gateway_pid: int
    replica_url: str  # another gateway process with the same settings and Redis


@dataclass(frozen=True)
class Attack:
    name: str
    point: int
    expected: str
    run: Callable[[Target], tuple[bool, str]]  # → (held, what was observed)


ATTACKS: list[Attack] = []


def attack(name: str, point: int, expected: str):
    def register(run: Callable[[Target], tuple[bool, str]]):
        ATTACKS.append(Attack(name, point, expected, run))
        return run

    return register


def _post(t: Target, path: str, body: bytes | str) -> httpx.Response:
    """`body` as sent, with the key the route needs, so the attack reaches the parser."""
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    headers = JSON | {"X-API-Key": t.api_key if path == EVENTS else READ_KEY}
    return httpx.post(t.url + path, content=content, headers=headers, timeout=10)


def _refused(r: httpx.Response, status: int, echo: str | None = None) -> tuple[bool, str]:
    """A refusal with `status`, a JSON detail, no trace, and (if given) `echo` not in it."""
    text = r.text
    held = (r.status_code == status and "Traceback" not in text
            and (echo is None or echo not in text))  # fmt: skip
    return held, f"{r.status_code}, {len(r.content)} bytes"


# 1. Strict parsing: non-standard JSON and coerced types get 422, never a 500 or an echo.
def _strict(name: str, path: str, body: str) -> None:
    @attack(name, 1, "422, the input not echoed")
    def run(t: Target) -> tuple[bool, str]:
        return _refused(_post(t, path, body), 422)


EVENT = '{"event_id": "sec-1", "user_id": "u1", "item_id": "i1", "type": "purchase", "value": '
# (attack, route, body): also the cases of tests/serving/test_strict_input.py.
STRICT = [
    ("nan_number", REC, '{"user_id": "u1", "page_size": NaN}'),
    ("infinity_number", REC, '{"user_id": "u1", "page_size": Infinity}'),
    ("overflowing_number", REC, '{"user_id": "u1", "page_size": 1e999}'),
    ("lone_surrogate_value", REC, '{"user_id": "\\ud800", "page_size": 5}'),
    ("lone_surrogate_key", REC, '{"\\udfff": 1, "user_id": "u1"}'),
    ("string_for_integer", REC, '{"user_id": "u1", "page_size": "10"}'),
    ("boolean_for_integer", REC, '{"user_id": "u1", "page_size": true}'),
    ("negative_page_size", REC, '{"user_id": "u1", "page_size": -1}'),
    ("huge_page_size", REC, '{"user_id": "u1", "page_size": 1000000}'),
    ("arabic_indic_digits_id", REC, '{"user_id": "U\\u0660\\u0660\\u0660\\u0661"}'),
    ("zero_width_joiner_id", REC, '{"user_id": "U0000\\u200d1"}'),
    ("event_value_nan", EVENTS, EVENT + "NaN}"),
    ("event_value_minus_infinity", EVENTS, EVENT + "-Infinity}"),
    ("event_value_lone_surrogate", EVENTS, EVENT + '"\\ud83d"}'),
    ("event_value_boolean", EVENTS, EVENT + "false}"),  # found by Schemathesis (seed 1)
    ("event_value_string", EVENTS, EVENT + '"4"}'),
    ("event_ts_number", EVENTS, EVENT + '1, "ts": 0.25}'),  # found by Schemathesis (seed 1)
    ("malformed_json", EVENTS, "{not json"),
    ("garbage_page_token", REC, '{"user_id": "u1", "page_token": "a.b"}'),
]
for _name, _path, _body in STRICT:
    _strict(_name, _path, _body)


@attack("long_id_not_echoed", 8, "422 under 2 KB, the 10,000-character id not in it")
def _long_id(t: Target) -> tuple[bool, str]:
    r = _post(t, REC, json.dumps({"user_id": "u" * 10_000}))
    held, seen = _refused(r, 422, "u" * 300)
    return held and len(r.content) < 2048, seen


@attack("unknown_keys_not_echoed", 8, "4xx under 4 KB for 16 KB of unknown keys")
def _unknown_keys(t: Target) -> tuple[bool, str]:
    body = json.dumps({"user_id": "u1"} | {f"k{i}": i for i in range(1500)})[:16_000] + "}"
    r = _post(t, REC, body)
    held = 400 <= r.status_code < 500 and len(r.content) < 4096
    return held, f"{r.status_code}, {len(r.content)} bytes"


@attack("body_over_limit", 8, "413")
def _big_body(t: Target) -> tuple[bool, str]:
    return _refused(_post(t, REC, json.dumps({"user_id": "u" * 40_000})), 413)


@attack("chunked_body_over_limit", 8, "413 for a 40 KB body sent in chunks")
def _chunked(t: Target) -> tuple[bool, str]:
    chunks = (b"x" * 4096 for _ in range(10))
    r = httpx.post(t.url + REC, content=chunks, headers=JSON, timeout=10)
    return _refused(r, 413)


@attack("unknown_route", 1, "404 JSON, no trace")
def _unknown_route(t: Target) -> tuple[bool, str]:
    return _refused(httpx.get(t.url + "/v1/admin", timeout=10), 404)


@attack("wrong_method", 1, "405")
def _wrong_method(t: Target) -> tuple[bool, str]:
    return _refused(httpx.get(t.url + EVENTS, timeout=10), 405)


@attack("path_traversal", 1, "404 for /ui/../ and %2e%2e paths")
def _traversal(t: Target) -> tuple[bool, str]:
    statuses = [_raw(t, b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p)[:12]
                for p in (b"/ui/../../etc/passwd", b"/ui/%2e%2e/%2e%2e/etc/passwd")]  # fmt: skip
    return all(s.endswith(b"404") for s in statuses), ", ".join(s.decode() for s in statuses)


# 2. Credentials and page tokens.
def _page(
    t: Target,
    token: str | None = None,
    user: str | None = None,
    key: str | None = READ_KEY,
    size: int = 2,
) -> httpx.Response:
    body = {"user_id": user or t.user, "page_size": size} | ({"page_token": token} if token else {})
    headers = {} if key is None else {"X-API-Key": key}
    return httpx.post(t.url + REC, json=body, headers=headers, timeout=10)


@attack("token_signed_with_old_default", 2, "403 for a token signed with `change-me`")
def _forged(t: Target) -> tuple[bool, str]:
    forged = PageChains(None, b"change-me", 60).token(Cursor("a" * 24, 2), t.user)
    r = _page(t, forged)
    return r.status_code == 403, str(r.status_code)


@attack("token_of_another_user", 2, "403")
def _foreign(t: Target) -> tuple[bool, str]:
    token = _page(t).json()["next_page_token"]
    r = _page(t, token, user=t.user + "-other")
    return r.status_code == 403, str(r.status_code)


@attack("tampered_token", 2, "403 (or 422) for a token with its page number changed")
def _tampered(t: Target) -> tuple[bool, str]:
    chain, _, rest = _page(t).json()["next_page_token"].split(".", 2)
    r = _page(t, f"{chain}.99.{rest}")
    return r.status_code in (403, 422), str(r.status_code)


@attack("tampered_first_page", 2, "403 for page 2's token with the page 1 it carries edited")
def _tampered_first(t: Target) -> tuple[bool, str]:
    chain, page, mac, first = _page(t).json()["next_page_token"].split(".")
    carried = FirstPage.decode(first)
    edited = FirstPage(carried.items[:1], carried.served_at).encode()  # shown again on page 2
    r = _page(t, f"{chain}.{page}.{mac}.{edited}")
    return r.status_code == 403, str(r.status_code)


@attack("chain_past_max_pages", 2, "no token after GENREC_MAX_PAGES (3) pages")
def _max_pages(t: Target) -> tuple[bool, str]:
    token, pages = None, 0
    for _ in range(6):
        page = _page(t, token).json()
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    return (
        token is None and pages <= 3,
        f"{pages} pages, last token {'none' if token is None else 'issued'}",
    )


def _event(t: Target, key: str | None) -> httpx.Response:
    body = {"event_id": f"sec-{time.time_ns()}", "user_id": t.user, "item_id": t.item,
            "type": "click"}  # fmt: skip
    headers = {} if key is None else {"X-API-Key": key}
    return httpx.post(t.url + EVENTS, json=body, headers=headers, timeout=10)


for _name, _key in [("event_without_key", None), ("event_with_empty_key", ""),
                    ("event_with_wrong_key", "x" * 24)]:  # fmt: skip

    def _write(t: Target, key: str | None = _key) -> tuple[bool, str]:
        r = _event(t, key)
        return r.status_code == 401, str(r.status_code)

    attack(_name, 2, "401")(_write)


@attack("event_with_the_key", 2, "200: the credential works (the attacks above are refusals)")
def _event_ok(t: Target) -> tuple[bool, str]:
    r = _event(t, t.api_key)
    return r.status_code == 200, str(r.status_code)


# 3. Authenticated reads.
@attack("anonymous_read_refused", 3, "401 for a page asked without a credential")
def _anonymous_read(t: Target) -> tuple[bool, str]:
    r = _page(t, key=None)
    return r.status_code == 401, str(r.status_code)


@attack("anonymous_history_refused", 3, "401 for a history asked without a credential")
def _anonymous_history(t: Target) -> tuple[bool, str]:
    r = httpx.get(t.url + "/v1/history", params={"user_id": t.user}, timeout=10)
    return r.status_code == 401, str(r.status_code)


@attack("unknown_and_known_users_alike", 3, "an anonymous caller cannot tell known ids apart")
def _enumeration(t: Target) -> tuple[bool, str]:
    def answers(user: str) -> list[tuple[int, bytes]]:  # a page, then a history
        page = _page(t, user=user, key=None)
        history = httpx.get(t.url + "/v1/history", params={"user_id": user}, timeout=10)
        return [(page.status_code, page.content), (history.status_code, history.content)]

    alike = answers(t.user) == answers("nobody-1")
    return alike, "one answer for either id" if alike else "the known id answers otherwise"


@attack("ui_lists_no_users", 3, "the page's config names no user ids to an anonymous caller")
def _ui_users(t: Target) -> tuple[bool, str]:
    users = httpx.get(t.url + "/ui/config", timeout=10).json()["example_users"]
    return users == [], f"{len(users)} ids"


@attack("read_key_cannot_write", 3, "403: a read-scoped key records no event")
def _scoped(t: Target) -> tuple[bool, str]:
    r = _event(t, READ_KEY)
    return r.status_code == 403, str(r.status_code)


@attack("read_key_reads", 3, "200: the read key works (the attacks above are refusals)")
def _read_ok(t: Target) -> tuple[bool, str]:
    r = _page(t)
    return r.status_code == 200, str(r.status_code)


# 4. Rate limits.
async def _burst(
    t: Target, path: str, method: str, headers: Callable[[int], dict], most: int = 3000
) -> list:
    """Requests 8 at a time (under the connection cap: this measures the rate limit), in
    rounds of 40 until one gets 429 or `most` were sent, so a slow machine floods longer."""
    async with httpx.AsyncClient(base_url=t.url, timeout=10) as c:

        async def one(i: int) -> int:
            if method == "GET":
                return (await c.get(path, headers=headers(i))).status_code
            return (await c.post(path, json={}, headers=headers(i))).status_code

        statuses: list[int] = []
        while 429 not in statuses and len(statuses) < most:
            for _ in range(5):
                n = len(statuses)
                statuses += await asyncio.gather(*(one(n + i) for i in range(8)))
        return statuses


def _limited(
    t: Target, path: str, method: str = "POST", headers: Callable[[int], dict] = lambda i: {}
) -> tuple[bool, str]:
    statuses = asyncio.run(_burst(t, path, method, headers))
    time.sleep(2.5)  # refill, so the next attack starts with a full bucket
    return statuses.count(429) > 0, f"first 429 within {len(statuses)} requests"


@attack("flood_from_one_address", 4, "429s with Retry-After")
def _flood(t: Target) -> tuple[bool, str]:
    return _limited(t, REC)


@attack("rotating_x_forwarded_for", 4, "429s still: the header is not believed from a client")
def _rotating(t: Target) -> tuple[bool, str]:
    return _limited(t, REC, headers=lambda i: {"X-Forwarded-For": f"198.51.100.{i % 250}"})


@attack("flood_with_a_key", 4, "429s: a client's key has its own bucket, and it runs dry")
def _key_flood(t: Target) -> tuple[bool, str]:
    return _limited(t, REC, headers=lambda i: {"X-API-Key": READ_KEY})


@attack("made_up_keys", 4, "429s still: a key nobody was given buys no fresh bucket")
def _made_up(t: Target) -> tuple[bool, str]:
    return _limited(t, REC, headers=lambda i: {"X-API-Key": f"made-up-{i}"})


@attack("limit_shared_by_replicas", 4, "two gateways let one client through no more than one "
        "limit allows")  # fmt: skip
def _shared(t: Target) -> tuple[bool, str]:
    rate, burst = float(SETTINGS["GENREC_RATE_LIMIT_RPS"]), int(SETTINGS["GENREC_RATE_LIMIT_BURST"])

    async def flood() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as c:
            urls = (t.url + REC, t.replica_url + REC)

            async def one(i: int) -> int:  # a 422, cheap: only the limit is measured
                return (await c.post(urls[i % 2], json={})).status_code

            statuses: list[int] = []
            for start in range(0, 6 * burst, 8):
                statuses += await asyncio.gather(*(one(start + i) for i in range(8)))
            return statuses

    began = time.monotonic()
    statuses = asyncio.run(flood())
    seconds = time.monotonic() - began
    time.sleep(2.5)
    passed = len(statuses) - statuses.count(429)
    # One window: burst, plus what refills while the flood lasts (10 % slack for the sliding
    # window's estimate, and one round in flight); a bucket per replica would allow twice that.
    one_limit = 1.1 * (burst + rate * seconds) + 8
    return passed <= one_limit and statuses.count(429) > 0, (
        f"{passed} of {len(statuses)} let through in {seconds:.1f} s; one limit allows "
        f"{one_limit:.0f}, one per replica {2 * (burst + rate * seconds):.0f}"
    )


@attack("readyz_flood", 4, "429s: health routes are limited too")
def _readyz(t: Target) -> tuple[bool, str]:
    return _limited(t, "/readyz", method="GET")


@attack("metrics_on_the_api_port", 4, "404: metrics live on their own port")
def _metrics(t: Target) -> tuple[bool, str]:
    r = httpx.get(t.url + "/metrics", timeout=10)
    return r.status_code == 404, str(r.status_code)


# 5. Anonymous state.
def _keys(url: str) -> set[bytes]:
    """Keys that outlive a request: all but the rate-limit windows (one per client, gone
    seconds after its last request)."""
    windows = SharedWindows.KEY_PREFIX.encode()
    return {k for k in Redis.from_url(url).scan_iter() if not k.startswith(windows)}


@attack("anonymous_state_bounded", 5, "tokenless pages create no lasting Redis state")
def _state(t: Target) -> tuple[bool, str]:
    before = _keys(t.redis_url) | _keys(t.cache_redis_url)
    for i in range(100):
        _page(t, user=f"anon-{i}")
    new = (_keys(t.redis_url) | _keys(t.cache_redis_url)) - before
    return not new, f"{len(new)} keys left by 100 tokenless pages"


@attack("chains_in_an_evicting_cache", 5, "page 2's chain in the cache Redis (evicting, capped); "
        "the event store noeviction")  # fmt: skip
def _cache(t: Target) -> tuple[bool, str]:
    store, cache = Redis.from_url(t.redis_url), Redis.from_url(t.cache_redis_url)
    token = _page(t, size=10).json()["next_page_token"]
    key = chain_key(token.split(".")[0])
    third = _page(t, token, size=10).json()["next_page_token"]
    two_pages = cache.memory_usage(key, samples=0) or 0
    _page(t, third, size=10)
    per_page = (cache.memory_usage(key, samples=0) or 0) - two_pages
    policy = {
        name: (r.config_get("maxmemory-policy")["maxmemory-policy"],
               int(r.config_get("maxmemory")["maxmemory"]))
        for name, r in (("store", store), ("cache", cache))
    }  # fmt: skip
    held = (
        bool(cache.exists(key)) and not store.exists(key)
        and policy["store"][0] == "noeviction" and policy["cache"][0] != "noeviction"
        and policy["cache"][1] > 0
    )  # fmt: skip
    return held, (
        f"chain in the cache: {bool(cache.exists(key))}, {two_pages} bytes with two 10-item "
        f"pages, {per_page} for the third; (policy, maxmemory): {policy}"
    )


# 6. Server limits: raw connections.
def _raw(t: Target, data: bytes, dribble: float = 0.0) -> bytes:
    """Send `data` (a byte at a time every `dribble` seconds, if set) → what comes back
    before the server closes (or 10 s)."""
    with socket.create_connection((t.host, t.port)) as s:
        s.settimeout(10)
        try:
            if dribble:
                for i in range(len(data)):
                    s.sendall(data[i : i + 1])
                    time.sleep(dribble)
            else:
                s.sendall(data)
        except OSError:  # closed by the server mid-send: what it said is still readable
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
        return out


def _status(answer: bytes) -> str:
    return answer[9:12].decode() or "closed"


@attack("huge_header", 6, "431 (or cut off mid-send), never served: an 8 MiB header")
def _huge_header(t: Target) -> tuple[bool, str]:
    answer = _raw(
        t, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n"
    )
    return _status(answer) in ("431", "closed"), _status(answer)


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


@attack("memory_after_huge_headers", 6, "gateway memory grows < 20 MB after four 32 MiB headers")
def _memory(t: Target) -> tuple[bool, str]:
    before = _rss_mb(t.gateway_pid)
    for _ in range(4):
        _raw(t, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (32 << 20) + b"\r\n\r\n")
    grown = _rss_mb(t.gateway_pid) - before
    return grown < 20, f"{grown:+.1f} MB"


def _timed(t: Target, data: bytes, dribble: float = 0.0) -> tuple[bool, str]:
    t0 = time.monotonic()
    answer = _raw(t, data, dribble)
    seconds = time.monotonic() - t0
    limit = float(SETTINGS["GENREC_REQUEST_READ_TIMEOUT_S"])
    return _status(
        answer
    ) == "408" and seconds < limit + 3, f"{_status(answer)} after {seconds:.1f} s"


@attack("idle_connection", 6, "408 and closed within the read timeout (2 s)")
def _idle(t: Target) -> tuple[bool, str]:
    return _timed(t, b"")


@attack("slow_headers", 6, "408 within the read timeout though bytes keep coming")
def _slow_headers(t: Target) -> tuple[bool, str]:
    return _timed(t, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 60 + b"\r\n\r\n", 0.1)


@attack("slow_body", 6, "408 within the read timeout for a body that never completes")
def _slow_body(t: Target) -> tuple[bool, str]:
    head = b"POST /v1/recommendations HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\n"
    return _timed(t, head + b"content-length: 100\r\n\r\n{")


@attack("connection_cap", 6, "503 at once past GENREC_MAX_CONNECTIONS (16) open connections")
def _cap(t: Target) -> tuple[bool, str]:
    held = [socket.create_connection((t.host, t.port)) for _ in range(16)]
    try:
        time.sleep(0.2)
        answer = _raw(t, b"")
    finally:
        for s in held:
            s.close()
    return _status(answer) == "503", _status(answer)


@attack("request_smuggling", 6, "400 for Content-Length with Transfer-Encoding")
def _smuggling(t: Target) -> tuple[bool, str]:
    head = b"POST /v1/recommendations HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
    answer = _raw(t, head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n")
    return _status(answer) == "400", _status(answer)


@attack("invalid_http", 6, "400")
def _invalid_http(t: Target) -> tuple[bool, str]:
    answer = _raw(t, b"NOT HTTP AT ALL\r\n\r\n")
    return _status(answer) == "400", _status(answer)


@attack("foreign_origin", 8, "no Access-Control-Allow-Origin for another site (CORS off)")
def _cors(t: Target) -> tuple[bool, str]:
    r = httpx.options(t.url + REC, headers={"Origin": "https://evil.example",
                                            "Access-Control-Request-Method": "POST"})  # fmt: skip
    allowed = r.headers.get("access-control-allow-origin")
    return allowed is None, f"{r.status_code}, allow-origin {allowed!r}"


def target(stack, dataset, replica_port: int) -> Target:
    """The Target of a running `genrec.local_stack.Stack` serving `dataset`, with another
    gateway of the stack (`Stack.another_gateway`) on `replica_port`."""
    user = next(u for u in dataset.users if len(u))
    return Target(
        url=stack.url, host="127.0.0.1", port=stack.gateway_port, api_key=stack.api_key,
        user=user.id, item=dataset.items[0].id, redis_url=stack.redis_url,
        cache_redis_url=stack.cache_redis_url, gateway_pid=stack.gateway.process.pid,
        replica_url=f"http://127.0.0.1:{replica_port}",
    )  # fmt: skip


def run_attacks(target: Target) -> list[dict]:
    """Every attack, in order → rows (attack, point, expected, observed, passed)."""
    rows = []
    for a in ATTACKS:
        try:
            held, observed = a.run(target)
        except Exception as e:  # an attack that broke the client is reported, not hidden
            held, observed = False, f"{type(e).__name__}: {e}"[:200]
        rows.append({"attack": a.name, "point": a.point, "expected": a.expected,
                     "observed": observed, "passed": held})  # fmt: skip
    return rows


def write_report(rows: list[dict], meta: dict, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    held = sum(r["passed"] for r in rows)
    path.write_text(json.dumps({"rows": rows, "attacks": len(rows), "passed": held,
                                "settings": SETTINGS, **meta}, indent=2) + "\n")  # fmt: skip
    text = (
        "# Attacks on the gateway\n\n"
        f"Generated from `{path.name}` by `{meta['command']}` on {meta['hardware']}: each row one "
        "attack against the local stack on loopback, with the gateway settings in the JSON "
        "(`settings`); `point`: the item of the security review it belongs to. "
        f"**{held} of {len(rows)} held.**\n\n"
        + markdown_table(rows, ["attack", "point", "expected", "observed", "passed"])
        + "\nSchemathesis over the gateway's OpenAPI schema (every check, seeds "
        f"{meta['schemathesis_seeds']}, valid generated ids swapped for the stack's own): "
        f"{meta['schemathesis_cases']} generated cases, {meta['schemathesis_failures']} "
        f"failures; {meta['schemathesis_events_recorded']} generated events recorded.\n"
    )
    path.with_suffix(".md").write_text(text)
    return text
