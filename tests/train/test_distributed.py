"""`torchrun --nproc_per_node 2 -m genrec train` (gloo on the CPU) learns exactly what one
process learns from the same global batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _train(store_path, out, nproc: int) -> list[dict]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
    args = ["-m", "genrec", "train", "--store", str(store_path), "--epochs", "1"]
    args += [
        "--eval-users",
        "200",
        "--hallucination-users",
        "10",
        "--no-progress",
        "--out",
        str(out),
    ]
    result = subprocess.run(
        launcher + args if nproc > 1 else [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((out / "genrec.json").read_text())["history"]


def test_two_gloo_processes_match_one(synthetic_store, tmp_path):
    _, store_path = synthetic_store
    one = _train(store_path, tmp_path / "one", 1)
    two = _train(store_path, tmp_path / "two", 2)
    assert two[0]["loss"] == pytest.approx(one[0]["loss"], rel=1e-4)
    assert two[0]["recall@10"] == pytest.approx(one[0]["recall@10"], abs=0.01)
