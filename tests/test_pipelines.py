"""The typed run configuration: run files, command-line overrides, identity and labels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.pipelines.config import RunConfig
from genrec.pipelines.identity import run_id


def test_run_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[data]\ndataset = "beauty"\n[tokenizer]\nstore = "tokenizer_store/b/v1"\n'
        "[model]\ndense_candidates = 20\n"
    )
    run = RunConfig.from_toml(path, seed=2)
    assert (run.data.dataset, run.model.dense_candidates, run.train.seed) == ("beauty", 20, 2)
    assert run.tokenizer.store == Path("tokenizer_store/b/v1")
    assert run.model.size == RunConfig().model.size  # what the file leaves out: the recipe's
    assert RunConfig.from_toml(path, dense_candidates=50).model.dense_candidates == 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\ndropuot = 0.3\n", "has no key 'dropuot'"),
        ("[optim]\nlr = 0.1\n", "unknown table 'optim'"),
        ("[train]\nseed = \n", "run.toml"),
    ],
)
def test_run_file_refuses_typos_and_bad_toml(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(GenrecError, match=message):
        RunConfig.from_toml(path)


def test_options_reach_their_sub_configs():
    run = RunConfig.from_options(dropout=0.4, beam=20, epochs=3, store="s/v2")
    assert (run.model.dropout, run.engine.beam, run.train.epochs) == (0.4, 20, 3)
    assert run.tokenizer.store == Path("s/v2")
    with pytest.raises(GenrecError, match="unknown option 'dropuot'"):
        RunConfig.from_options(dropuot=0.4)


def test_identity_and_label_tell_runs_apart():
    default = RunConfig()
    other = RunConfig.from_options(dense_candidates=0, dropout=0.4, distill=0.0)
    assert default.label() == "decoder-5m" and other.label() == "decoder-5m dc0 do0.4 kd0"
    assert set(default.identity()) == {"data", "tokenizer", "model", "train", "engine"}
    assert run_id(default.identity()) != run_id(other.identity())
    seed1 = RunConfig.from_options(seed=1)
    assert seed1.label() == default.label() and run_id(seed1.identity()) != run_id(
        default.identity()
    )  # the label leaves the seed out; the id does not
    assert run_id(RunConfig().identity()) == run_id(default.identity())


def test_cli_run_file_error_is_one_line(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochz = 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "train", "--config", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "[train] has no key 'epochz'" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_options_are_the_run_config_fields():
    """`genrec train` declares no run option by hand: each field is one option, with the
    field's default and help, so a new field is on the command line without an edit there."""
    import typer.main

    import genrec.cli  # noqa: F401  (registers the commands)
    from genrec.cli.common import app

    command = typer.main.get_command(app).commands["train"]
    params = {p.name: p for p in command.params}
    assert set(RunConfig.options()) <= set(params)
    assert params["dropout"].default == RunConfig().model.dropout
    assert params["dense"].secondary_opts == ["--no-dense"]
    assert "-d" in params["dataset"].opts and params["beam"].help.startswith("Beam width")
