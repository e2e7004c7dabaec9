"""Client keys (`service.clients`): configured as digests, scoped, and the defaults that keep
reads closed outside dev mode. The real gateway's refusals are bench-security's attacks
(test_security.py); here the rules themselves, and the command that makes a key."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from service.clients import OPERATOR, Clients, Scope, digest
from service.settings import Settings, unsafe


def _settings(monkeypatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"GENREC_{name}", value)
    return Settings(_env_file=None)


def test_keys_are_configured_as_digests_and_name_their_client(monkeypatch):
    clients = {"frontend": {"sha256": digest("read-key"), "scopes": ["read"]},
               "ingest": {"sha256": digest("write-key"), "scopes": ["write"]}}  # fmt: skip
    settings = _settings(monkeypatch, CLIENTS=json.dumps(clients), API_KEY="o" * 20)
    known = Clients(settings)
    assert known.identify("read-key").name == "frontend"
    assert known.identify("read-key").scopes == {Scope.read}
    assert known.identify("write-key").scopes == {Scope.write}
    assert known.identify("o" * 20).name == OPERATOR
    assert known.identify("o" * 20).scopes == set(Scope)
    assert known.identify("read-key ") is None and known.identify("") is None
    assert known.identify(None) is None
    assert "read-key" not in repr(settings)  # only the digest is ever held


@pytest.mark.parametrize("entry", [
    {"sha256": "abc", "scopes": ["read"]},  # not a digest
    {"sha256": digest("k"), "scopes": []},  # no scope
    {"sha256": digest("k"), "scopes": ["admin"]},
])  # fmt: skip
def test_a_bad_client_entry_is_refused(monkeypatch, entry):
    with pytest.raises(ValidationError):
        _settings(monkeypatch, CLIENTS=json.dumps({"c": entry}))


def test_reads_need_a_key_outside_dev_mode_unless_opened(monkeypatch):
    production = Clients(_settings(monkeypatch, API_KEY="o" * 20, TOKEN_SECRET="t" * 20))
    assert production.needs_key(Scope.read) and production.needs_key(Scope.write)
    assert not Clients(_settings(monkeypatch, DEV_MODE="true")).needs_key(Scope.read)
    opened = Clients(_settings(monkeypatch, DEV_MODE="false", ANONYMOUS_READS="true"))
    assert not opened.needs_key(Scope.read) and opened.needs_key(Scope.write)
    closed = Clients(_settings(monkeypatch, DEV_MODE="true", ANONYMOUS_READS="false"))
    assert closed.needs_key(Scope.read)


def test_client_keys_may_stand_for_the_operator_key():
    client = {"ingest": {"sha256": digest("w"), "scopes": ["write"]}}
    assert unsafe(Settings(token_secret="t" * 16, clients=client)) == []
    assert unsafe(Settings(token_secret="t" * 16)) == ["GENREC_API_KEY is not set"]


def test_client_key_prints_a_key_and_the_entry_that_configures_it():
    run = subprocess.run([sys.executable, "-m", "genrec", "client-key", "shop", "--scope",
                          "read", "--scope", "write"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    key = lines[0].rsplit(" ", 1)[1]
    entry = json.loads(lines[1].split(": ", 1)[1])
    assert entry == {"shop": {"sha256": digest(key), "scopes": ["read", "write"]}}
    bad = subprocess.run([sys.executable, "-m", "genrec", "client-key", "shop", "--scope",
                          "admin"], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "unknown scope 'admin'" in bad.stderr
