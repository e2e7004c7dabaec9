"""Schemathesis against the gateway's own OpenAPI schema, on the real stack: over a thousand
generated requests (schema-valid and schema-violating), every check on — no 5xx, only
documented status codes and bodies, valid input accepted, invalid input refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.serving.conftest import API_KEY


def test_generated_requests_find_no_failure(stack):
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{stack.url}/openapi.json",
        "--checks", "all", "--max-examples", "150", "--seed", "0", "--no-color",
        "--rate-limit", "80/s",  # under the test stack's per-client limit
        "--header", f"X-API-Key: {API_KEY}",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert run.returncode == 0 and summary, run.stdout[-3000:]
    generated, passed = map(int, summary.groups())
    assert generated >= 1000 and passed == generated
