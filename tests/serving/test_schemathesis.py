"""Schemathesis against the gateway's own OpenAPI schema, on the real stack: over a thousand
generated requests (schema-valid and schema-violating), every check on — no 5xx, only
documented status codes and bodies, valid input accepted, invalid input refused."""

from __future__ import annotations

from genrec.bench.reliability import run_schemathesis
from tests.serving.conftest import API_KEY


def test_generated_requests_find_no_failure(stack):
    result = run_schemathesis(stack.url, API_KEY)
    assert result["schemathesis_exit_code"] == 0, result
    assert result["schemathesis_cases"] >= 1000 and result["schemathesis_failures"] == 0
