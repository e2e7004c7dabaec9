"""No shipped secret ever serves: outside dev mode the gateway refuses to start without a
token secret and a write key of its own, saying which, in one line, before it listens."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genrec.local_stack import free_port
from service.settings import Settings, unsafe


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    port = str(free_port())
    command = [sys.executable, "-m", "service.server", "--port", port]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GENREC_")}
    clean["GENREC_METRICS_PORT"] = str(free_port())
    return subprocess.run(command, env=clean | env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "named"), [
    ({}, "GENREC_TOKEN_SECRET is not set; GENREC_API_KEY is not set"),
    ({"GENREC_TOKEN_SECRET": "change-me", "GENREC_API_KEY": "x" * 20}, "TOKEN_SECRET is too weak"),
    ({"GENREC_TOKEN_SECRET": "s" * 32, "GENREC_API_KEY": ""}, "GENREC_API_KEY is not set"),
    ({"GENREC_TOKEN_SECRET": "s" * 32, "GENREC_API_KEY": "short-key"}, "API_KEY is too weak"),
])  # fmt: skip
def test_the_gateway_refuses_to_start_without_its_own_secrets(env, named):
    run = _start(env)
    assert run.returncode != 0
    refusal = [line for line in run.stderr.splitlines() if "refusing to start" in line]
    assert len(refusal) == 1 and named in refusal[0], run.stderr[-2000:]
    assert "s" * 32 not in run.stderr and "x" * 20 not in run.stderr  # never logged


def test_dev_mode_and_real_secrets_pass_the_check():
    assert unsafe(Settings(dev_mode=True)) == []
    assert unsafe(Settings(token_secret="t" * 16, api_key="k" * 16)) == []


def test_a_bad_setting_is_one_line_naming_it_and_exit_2():
    run = _start({"GENREC_TOKEN_SECRET": "s" * 32, "GENREC_API_KEY": "x" * 20,
                  "GENREC_CLIENTS": '{"fe": {"sha256": "abc", "scopes": ["read"]}}'})  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: GENREC_CLIENTS (fe.sha256): String should match pattern '^[0-9a-f]{64}$'"
    ]
