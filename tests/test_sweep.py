"""`genrec sweep FILE`: a grid from a TOML file, run side by side, finished runs skipped, bad
files refused before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.sweep import plan

GRID = """
datasets = ["beauty", "ml-100k"]
seeds = [0, 1]
sasrec_seeds = [0]
tokenize = true
args = ["--device", "cuda"]

[[variant]]
name = "default"

[[variant]]
name = "dc20"
args = ["--dense-candidates", "20"]
datasets = ["beauty"]
seeds = [0]

[[variant]]
name = "grpo"
align = "dc20"
args = ["--method", "grpo-sr"]
datasets = ["beauty"]
seeds = [0]

[[variant]]
name = "pages"
slate = "dc20"
datasets = ["beauty"]
seeds = [0]
"""


def test_plan_expands_the_grid_in_stages(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    jobs = plan(path, tmp_path / "runs", time_budget=5)
    names = [j.name for j in jobs]
    assert names == [
        "sasrec-beauty-s0", "sasrec-ml-100k-s0", "tokenize-beauty", "tokenize-ml-100k",
        "beauty-default-s0", "beauty-default-s1", "ml-100k-default-s0", "ml-100k-default-s1",
        "beauty-dc20-s0", "beauty-grpo-s0", "beauty-pages-s0",
    ]  # fmt: skip
    assert [j.stage for j in jobs] == [0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 3]
    dc20 = jobs[-3].args
    assert dc20[:4] == ("train", "-d", "beauty", "--seed") and "--dense-candidates" in dc20
    out = str(tmp_path / "runs" / "beauty-dc20-s0")
    # A seed with its SASRec in the sweep distils from that SASRec, where the sweep puts it.
    assert dc20[-6:] == ("--out", out, "--artifacts", "artifacts", "--time-budget", "5")
    seed1 = jobs[5].args  # beauty-default-s1: seed 1 has no SASRec in this sweep
    assert "--artifacts" not in seed1
    assert jobs[0].args[-2:] == ("--device", "cuda")  # SASRec shares the train device
    # The last stage aligns the named variant's run of its dataset and seed, with align's own
    # options and the seed's SASRec as reward model.
    assert jobs[-2].args == (
        "align", out, "--seed", "0", "--device", "cuda", "--method", "grpo-sr",
        "--out", str(tmp_path / "runs" / "beauty-grpo-s0"), "--artifacts", "artifacts",
        "--time-budget", "5",
    )  # fmt: skip
    assert jobs[-1].args[:2] == ("slate", out) and "--artifacts" not in jobs[-1].args


@pytest.mark.parametrize(("text", "message"), [
    ("datasets = [", "grid.toml"),
    ("epochs = 3\n[[variant]]\nname = 'a'", "unknown key 'epochs'"),
    ("seeds = [0]", "no [[variant]]"),
    ("[[variant]]\nname = 'a b'", "needs a name"),
    ("[[variant]]\nname = 'a'\n[[variant]]\nname = 'a'", "a second variant named 'a'"),
    ("[[variant]]\nname = 'a'\nseeds = ['x']", "expected a list of integers"),
    ("[[variant]]\nname = 'a'\nalign = 'b'", "align = 'b' names no trained variant"),
    ("[[variant]]\nname = 'a'\n[[variant]]\nname = 'b'\nalign = 'a'\nslate = 'a'",
     "one of align or slate"),
])  # fmt: skip
def test_bad_sweep_files_are_refused(tmp_path, text, message):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(GenrecError, match=message.replace("[", r"\[")):
        plan(path, tmp_path / "runs")
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "sweep", str(path), "--runs", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sweep_runs_skips_and_reports_failures(synthetic_store, tmp_path):
    _, store_path = synthetic_store
    path = tmp_path / "grid.toml"
    quick = ["--size", "tiny", "--epochs", "1", "--eval-users", "50", "--hallucination-users",
             "5", "--dense-weights", "1", "--beam", "20", "--store", str(store_path),
             "--device", "cpu", "--no-progress", "--distill", "0"]  # fmt: skip
    # (no teacher: the sweep's mechanics are under test here, distillation in tests/train)
    path.write_text(
        f"datasets = ['synthetic']\nargs = {json.dumps(quick)}\n"
        "[[variant]]\nname = 'tiny'\n[[variant]]\nname = 'bad'\nargs = ['--size', 'huge']\n"
    )
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "genrec", "sweep", str(path), "--runs", str(runs),
               "--parallel", "2", "--no-progress"]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 1, first.stderr[-2000:]  # the bad variant failed
    assert "1 failed" in first.stdout
    meta = json.loads((runs / "synthetic-tiny-s0" / "genrec.json").read_text())
    assert meta["test"]["recall@10"] > 0 and "--seed 0" in meta["test"]["command"]
    assert "unknown size 'huge'" in (runs / "logs" / "synthetic-bad-s0.log").read_text()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert "skipped" in again.stdout  # the finished run is not trained twice
    assert Path(runs / "synthetic-tiny-s0").is_dir()
