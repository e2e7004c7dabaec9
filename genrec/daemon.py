"""`genrec serve` in the background and `genrec stop`: the stack's supervisor records its own
pid and its servers' pids in `<workdir>/serve.json` once everything serves, and removes it on a
clean exit. `stop` asks the supervisor to stop (it stops the servers in order) and then makes
sure none of the recorded processes is left, whatever happened to the supervisor."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from genrec.errors import GenrecError

STATE = "serve.json"
CREDENTIALS = "credentials.json"


def credentials(workdir: Path, api_key: str | None = None) -> dict[str, str]:
    """The demo stack's API key and page-token secret: generated once into
    `<workdir>/credentials.json` (owner-only), so restarts keep clients' keys and page tokens
    valid; `api_key` replaces the stored key."""
    path = workdir / CREDENTIALS
    stored = json.loads(path.read_text()) if path.exists() else {}
    creds = {
        "api_key": api_key or stored.get("api_key") or secrets.token_urlsafe(18),
        "token_secret": stored.get("token_secret") or secrets.token_urlsafe(32),
    }
    if creds != stored:
        workdir.mkdir(parents=True, exist_ok=True)
        _write_json(path, creds, mode=0o600)
    return creds


def _write_json(path: Path, value: dict, mode: int = 0o644) -> None:
    """Whole or not at all: a reader never sees half a file (a temporary, then a rename)."""
    partial = path.with_name(f"{path.name}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        json.dump(value, out)
    os.replace(partial, path)


def running(workdir: Path) -> dict | None:
    """The state of a supervisor that is still alive in `workdir`, else None."""
    path = workdir / STATE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return state if _alive(state["pid"]) else None


def record(workdir: Path, pids: dict[str, int], **facts) -> None:
    """Called by the supervisor once the stack serves: its pid, its servers' pids, and `facts`
    for whoever started it (URLs, ports)."""
    _write_json(workdir / STATE, {"pid": os.getpid(), "services": pids, **facts})


def forget(workdir: Path) -> None:
    (workdir / STATE).unlink(missing_ok=True)


def detach(argv: list[str], workdir: Path, timeout_s: float = 900.0) -> dict:
    """Run `genrec <argv>` (a foreground `serve`) in a new session with its output in
    `<workdir>/logs/serve.log`; return its state once it serves, or raise with the log's tail
    if it exits first."""
    log = workdir / "logs" / "serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    forget(workdir)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "genrec", *argv], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = running(workdir)
        if state is not None and state["pid"] == child.pid:
            return state
        if child.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise GenrecError(f"the stack did not start (exit {child.returncode}); {log}:\n{tail}")
        time.sleep(0.3)
    child.terminate()
    raise GenrecError(f"the stack was not serving after {timeout_s:.0f} s; see {log}")


def stop(workdir: Path, timeout_s: float = 60.0) -> list[str]:
    """Stop the stack serving from `workdir`; → the names of the processes that were running."""
    path = workdir / STATE
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    stopped = []
    if _terminate(state["pid"], timeout_s):
        stopped.append("genrec serve")
    for name, pid in state["services"].items():  # left behind only if the supervisor died
        if _terminate(pid, 15.0):
            stopped.append(name)
    forget(workdir)
    return stopped


def _terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM, then SIGKILL after `timeout_s`; → whether it was running."""
    if not _alive(pid):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.1)
    return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie's parent has yet to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
