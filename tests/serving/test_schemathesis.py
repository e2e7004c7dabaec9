"""Schemathesis against the gateway's own OpenAPI schema, on the real stack: over three thousand
generated requests over two seeds (schema-valid and schema-violating), every check on: no 5xx,
only documented status codes and bodies, valid input accepted, invalid input refused. Valid
generated ids become known ones, so events really are recorded (as the users' own are)."""

from __future__ import annotations

from genrec.bench.reliability import run_schemathesis
from tests.serving.conftest import API_KEY


def test_generated_requests_find_no_failure(stack, small_synthetic):
    users = [u.id for u in small_synthetic.users[1000:1016]]  # no other test reads these
    items = [i.id for i in small_synthetic.items]
    result = run_schemathesis(stack.url, stack.redis_url, API_KEY, users, items)
    assert result["schemathesis_exit_code"] == 0, result
    assert result["schemathesis_cases"] >= 3000 and result["schemathesis_failures"] == 0
    assert result["schemathesis_seeds"] == [0, 1]
    assert result["schemathesis_events_recorded"] >= 100, result  # the write path was reached
