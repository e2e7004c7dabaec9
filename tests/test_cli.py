"""The CLI as a user runs it: help on every command, and the main job's output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from genrec import daemon
from genrec.local_stack import free_port

REPO = Path(__file__).resolve().parents[1]


def _genrec(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_version():
    from genrec import __version__

    result = _genrec("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"genrec {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["datasets", "--help"], ["baselines", "--help"]])
def test_help(args):
    result = _genrec(*args)
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_datasets_lists_counts(data_dir):
    result = _genrec("datasets", "--data-dir", str(data_dir))
    assert result.returncode == 0
    for name, count in [("beauty", "198502"), ("ml-100k", "100000"), ("synthetic", "60181")]:
        assert name in result.stdout and count in result.stdout


def test_baselines_writes_report_and_artifacts(tmp_path):
    report = tmp_path / "reports" / "baselines.json"
    result = _genrec(
        "baselines", "--epochs", "2", "--no-progress", "--report", str(report),
        "--artifacts", str(tmp_path / "artifacts"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sasrec" in result.stdout and "popularity" in result.stdout
    rows = json.loads(report.read_text())["rows"]
    assert {(r["dataset"], r["model"]) for r in rows} == {
        ("synthetic", "popularity"),
        ("synthetic", "sasrec"),
    }
    for row in rows:
        assert {"recall@5", "recall@10", "ndcg@5", "ndcg@10", "train_seconds"} <= row.keys()
        assert row["hardware"] and row["command"].startswith("genrec baselines")
    assert report.with_suffix(".md").read_text().count("| synthetic |") == 2
    assert (tmp_path / "reports" / "sasrec_synthetic.png").stat().st_size > 0
    assert (tmp_path / "artifacts" / "synthetic" / "sasrec" / "embeddings.safetensors").exists()


def test_export_then_serve_detached_and_stop(synthetic_store, tmp_path):
    """`genrec export CHECKPOINT` as `make demo` runs it (into `model_repo/` of the working
    directory): the new version folder records its store, and the model's configurations,
    tracked in git, stay byte for byte as they were, so an export leaves the checkout clean.
    Then `genrec serve --detach` and `genrec stop` (an untrained decoder serves as well)."""
    from genrec.contract import STORE_PIN, VERSION_FILES, store_label
    from genrec.model.checkpoint import save_checkpoint
    from genrec.model.config import build_decoder
    from genrec.model.decoder import PromptConfig, SIDDecoder
    from genrec.model.vocab import SIDVocab

    store, store_path = synthetic_store
    template, model_dir = REPO / "model_repo" / "genrec", tmp_path / "model_repo" / "genrec"
    shutil.copytree(template, model_dir, ignore=shutil.ignore_patterns("[0-9]*"))
    vocab = SIDVocab()
    decoder = SIDDecoder(build_decoder("tiny", vocab), vocab, PromptConfig(), store.item_sids)
    checkpoint = save_checkpoint(decoder, store, store_path, tmp_path / "ckpt", {})
    result = _genrec("export", str(checkpoint), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads((model_dir / "1" / VERSION_FILES.export).read_text())
    assert info[STORE_PIN] == store_label(store.manifest)
    configs = [template / "config.pbtxt", *template.glob("configs/*.pbtxt")]
    assert len(configs) == 2
    for config in configs:
        assert (model_dir / config.relative_to(template)).read_bytes() == config.read_bytes()

    # Served from there in the background, as `make demo-detach` does, then stopped.
    workdir, port = tmp_path / "stack", str(free_port())
    result = _genrec("serve", "--detach", "--port", port, "--workdir", str(workdir), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        state = json.loads((workdir / daemon.STATE).read_text())
        creds = json.loads((workdir / daemon.CREDENTIALS).read_text())
        assert (workdir / daemon.CREDENTIALS).stat().st_mode & 0o077 == 0  # the owner's alone
        assert f"{state['url']}/#key={creds['api_key']}" in result.stdout
        again = _genrec(
            "serve", "--detach", "--port", port, "--workdir", str(workdir), cwd=tmp_path
        )
        assert again.returncode == 2 and "already serving" in again.stderr
        with httpx.Client(base_url=state["url"], timeout=30) as client:
            assert client.get("/").status_code == 200
            event = {"event_id": "e1", "user_id": "U00000", "item_id": "SYN00001", "type": "click"}
            assert client.post("/v1/events", json=event).status_code == 401
            key = {"X-API-Key": creds["api_key"]}
            ok = client.post("/v1/events", json=event, headers=key)
            assert ok.status_code == 200, ok.text
            # A crashed redis-server is started again, from its append-only file (fsync'd each
            # second): the event acknowledged before the crash is still there.
            time.sleep(1.5)
            os.kill(state["services"]["redis-server"], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while (now := daemon.running(workdir))["services"]["redis-server"] == state["services"][
                "redis-server"
            ]:
                assert time.monotonic() < deadline, "redis-server was not restarted"
                time.sleep(0.2)
            while (retry := client.post("/v1/events", json=event, headers=key)).status_code == 503:
                assert time.monotonic() < deadline, retry.text  # a client retries on 503
                time.sleep(float(retry.headers["retry-after"]) / 10)
            assert retry.status_code == 200 and retry.json()["duplicate"] is True, retry.text
            state = now
    except BaseException:
        daemon.stop(workdir)  # no stack left behind by a failing test
        raise
    result = _genrec("stop", "--workdir", str(workdir))
    assert result.returncode == 0 and "genrec serve" in result.stdout, result.stdout
    pids = [state["pid"], *state["services"].values()]
    # The supervisor, the two redis-servers (events; the cache), tritonserver and the gateway.
    assert len(pids) == 5 and not any(daemon._alive(pid) for pid in pids)
    assert not (workdir / daemon.STATE).exists()
    assert "nothing was serving" in _genrec("stop", "--workdir", str(workdir)).stdout
