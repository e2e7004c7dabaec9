"""The CLI as a user runs it: help on every command, and the main job's output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _genrec(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


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
