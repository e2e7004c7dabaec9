"""`torchrun --nproc_per_node 2 -m genrec train` (gloo on the CPU) learns exactly what one
process learns from the same global batches, with DDP and with FSDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _train(store_path, out, nproc: int, strategy: str = "ddp") -> list[dict]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
    # The default recipe (dense head included) at the tiny size, one dense weight and beam 20
    # to keep the CPU's decoding short; without its teacher, whose SASRec training would only
    # add time (distillation has its own tests).
    args = ["-m", "genrec", "train", "--store", str(store_path), "--epochs", "1"]
    args += ["--distill", "0"]
    args += ["--size", "tiny", "--dense-weights", "1", "--beam", "20"]
    args += [
        "--eval-users",
        "200",
        "--hallucination-users",
        "10",
        "--no-progress",
        "--out",
        str(out),
        "--strategy",
        strategy,
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


@pytest.fixture(scope="module")
def one_process(synthetic_store, tmp_path_factory) -> list[dict]:
    return _train(synthetic_store[1], tmp_path_factory.mktemp("one") / "ckpt", 1)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_gloo_processes_match_one(one_process, synthetic_store, tmp_path, strategy):
    """FSDP shards each block's weights over the two processes; rank 0 still validates and
    saves the whole model (the checkpoint's history is what rank 0 measured)."""
    two = _train(synthetic_store[1], tmp_path / "two", 2, strategy)
    assert two[0]["loss"] == pytest.approx(one_process[0]["loss"], rel=1e-4)
    assert two[0]["recall@10"] == pytest.approx(one_process[0]["recall@10"], abs=0.01)
