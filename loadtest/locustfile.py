"""Locust scenarios against the gateway, with SLOs that fail the run when broken.

Scenarios (user classes, by weight): browsing one chain page 1 → 2 → 3; events then
recommendations (read-your-writes path); cold users the catalogue has never seen. The shape adds
a burst: the steady user count triples for a while, then falls back. Known users and items come
from the JSON file in $GENREC_LOADTEST_CATALOG (written by `genrec loadtest`); SLOs from
$GENREC_SLO_P99_MS and $GENREC_SLO_ERROR_RATE; the write key, if any, from $GENREC_API_KEY.
Run it through `genrec loadtest`, or by hand:

    locust -f loadtest/locustfile.py --headless -u 20 -r 10 -t 60s --host http://127.0.0.1:8000
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, between, events, task

CATALOG = json.loads(Path(os.environ["GENREC_LOADTEST_CATALOG"]).read_text())
USERS, ITEMS = CATALOG["users"], CATALOG["items"]
P99_MS = float(os.environ.get("GENREC_SLO_P99_MS", "150"))
ERROR_RATE = float(os.environ.get("GENREC_SLO_ERROR_RATE", "0"))
BURST = float(os.environ.get("GENREC_LOADTEST_BURST", "3"))  # users multiplier mid-run
REC = "/v1/recommendations"
WRITE_HEADERS = (
    {"X-API-Key": os.environ["GENREC_API_KEY"]} if "GENREC_API_KEY" in os.environ else {}
)


class Browser(FastHttpUser):
    """Pages through one chain, as a person scrolling a feed."""

    weight = 5
    wait_time = between(0.5, 1.5)

    @task
    def browse(self) -> None:
        user, token = random.choice(USERS), None
        for page in (1, 2, 3):
            body = {"user_id": user, "page_size": 10, "page_token": token}
            with self.client.post(REC, json=body, name=f"browse: page {page}",
                                  catch_response=True) as r:  # fmt: skip
                if r.status_code != 200:
                    r.failure(f"status {r.status_code}")
                    return
                token = r.json()["next_page_token"]
                if token is None:
                    return


class Shopper(FastHttpUser):
    """Clicks an item, then asks for a fresh page (the history it just wrote)."""

    weight = 2
    wait_time = between(0.5, 1.5)

    @task
    def event_then_page(self) -> None:
        user = random.choice(USERS)
        event = {"event_id": uuid.uuid4().hex, "user_id": user, "item_id": random.choice(ITEMS),
                 "type": "click"}  # fmt: skip
        self.client.post("/v1/events", json=event, headers=WRITE_HEADERS, name="events: click")
        self.client.post(REC, json={"user_id": user}, name="events: next page")


class ColdUser(FastHttpUser):
    """Someone the catalogue has never seen."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def first_visit(self) -> None:
        self.client.post(REC, json={"user_id": f"new-{uuid.uuid4().hex[:12]}"}, name="cold: page 1")


class SteadyWithBurst(LoadTestShape):
    """`--users` steady, BURST (3) times as many for the middle fifth of `--run-time`."""

    def tick(self):
        opts = self.runner.environment.parsed_options
        total, users = opts.run_time, opts.num_users
        t = self.get_run_time()
        if t >= total:
            return None
        burst = 0.4 * total <= t < 0.6 * total
        return (round(users * BURST) if burst else users, opts.spawn_rate)


@events.quitting.add_listener
def check_slo(environment, **_) -> None:
    """Exit code 1 when p99 latency or the error rate breaks its SLO."""
    total = environment.stats.total
    p99 = total.get_response_time_percentile(0.99)
    if total.fail_ratio > ERROR_RATE or p99 > P99_MS:
        print(f"SLO broken: p99 {p99:.0f} ms (≤ {P99_MS:.0f}), errors {total.fail_ratio:.4f} "
              f"(≤ {ERROR_RATE})")  # fmt: skip
        environment.process_exit_code = 1
