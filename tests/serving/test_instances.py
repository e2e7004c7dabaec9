"""`with_instances`: the model repository Triton reads when a benchmark sets the instance
count, built from the repository's own configs, without editing them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.local_stack import with_instances

TEMPLATE = Path(__file__).resolve().parents[2] / "model_repo" / "genrec"


def _repo(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(TEMPLATE, repo / "genrec", ignore=shutil.ignore_patterns("[0-9]*"))
    (repo / "genrec" / "1").mkdir()
    (repo / "genrec" / "1" / "export.json").write_text("{}")
    return repo


def _counts(config: Path) -> list[str]:
    return re.findall(r"instance_group \[ \{ kind: KIND_\w+ count: (\d+)", config.read_text())


def test_every_config_gets_the_count_and_everything_else_is_linked(tmp_path):
    repo = _repo(tmp_path)
    before = {p: p.read_text() for p in repo.rglob("*.pbtxt")}
    out = with_instances(repo, tmp_path / "out", 3)
    model = out / "genrec"
    assert _counts(model / "config.pbtxt") == ["3"]
    assert _counts(model / "configs" / "cpu.pbtxt") == ["3"]
    assert (model / "1").is_symlink() and (model / "1" / "export.json").read_text() == "{}"
    assert (model / "model.py").resolve() == (repo / "genrec" / "model.py").resolve()
    # the rest of each config as it was; the repository itself untouched
    strip = re.compile(r"count: \d+")
    for config in (model / "config.pbtxt", model / "configs" / "cpu.pbtxt"):
        source = repo / config.relative_to(out)
        assert strip.sub("", config.read_text()) == strip.sub("", source.read_text())
    assert {p: p.read_text() for p in repo.rglob("*.pbtxt")} == before


def test_a_config_without_one_instance_group_or_a_count_below_one_is_refused(tmp_path):
    repo = _repo(tmp_path)
    with pytest.raises(GenrecError, match="at least 1"):
        with_instances(repo, tmp_path / "out", 0)
    config = repo / "genrec" / "config.pbtxt"
    config.write_text(re.sub(r"instance_group .*\n", "", config.read_text()))
    with pytest.raises(GenrecError, match="no single `instance_group"):
        with_instances(repo, tmp_path / "out", 2)
