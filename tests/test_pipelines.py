"""The typed run configuration: run files, command-line overrides, identity and labels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.pipelines.identity import run_id
from genrec.pipelines.train import TrainRun


def test_run_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('dataset = "beauty"\ndense_candidates = 20\nstore = "tokenizer_store/b/v1"\n')
    run = TrainRun.from_toml(path, seed=2)
    assert (run.dataset, run.dense_candidates, run.seed) == ("beauty", 20, 2)
    assert run.store == Path("tokenizer_store/b/v1") and run.size == TrainRun().size
    assert TrainRun.from_toml(path, dense_candidates=50).dense_candidates == 50


@pytest.mark.parametrize(
    ("text", "message"), [("dropuot = 0.3\n", "unknown key 'dropuot'"), ("seed = \n", "run.toml")]
)
def test_run_file_refuses_typos_and_bad_toml(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(GenrecError, match=message):
        TrainRun.from_toml(path)


def test_identity_and_label_tell_runs_apart():
    default, other = TrainRun(), TrainRun(dense_candidates=20, dropout=0.4)
    assert default.label() == "decoder-5m" and other.label() == "decoder-5m dc20 do0.4"
    assert run_id(default.identity()) != run_id(other.identity())
    assert run_id(TrainRun(seed=1).identity()) != run_id(default.identity())  # labels agree
    assert run_id(TrainRun().identity()) == run_id(default.identity())


def test_cli_run_file_error_is_one_line(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epochz = 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "train", "--config", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "unknown key 'epochz'" in result.stderr
    assert "Traceback" not in result.stderr
