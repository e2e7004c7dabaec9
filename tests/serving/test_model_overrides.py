"""`configured_repo`: the model repository Triton reads when a benchmark overrides the
model's configs (instances, the dynamic batcher, parameters), built from the repository's own
configs, without editing them; and `parse_buckets`, the engine's captured batch sizes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from genrec.errors import GenrecError
from genrec.local_stack import ModelOverrides, configured_repo
from genrec.serving import parse_buckets

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
    out = configured_repo(repo, tmp_path / "out", ModelOverrides(instances=3))
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
        ModelOverrides(instances=0)
    config = repo / "genrec" / "config.pbtxt"
    config.write_text(re.sub(r"instance_group .*\n", "", config.read_text()))
    with pytest.raises(GenrecError, match="no single `instance_group"):
        configured_repo(repo, tmp_path / "out", ModelOverrides(instances=2))


def test_batcher_and_parameters_are_set_in_every_config(tmp_path):
    repo = _repo(tmp_path)
    overrides = ModelOverrides(
        queue_delay_us=500, preferred_batch=(64, 128),
        parameters=(("batch_buckets", "1,2,4,8,16,32,64,96,128,256"), ("beam", "20")),
    )  # fmt: skip
    out = configured_repo(repo, tmp_path / "out", overrides)
    for config in (out / "genrec" / "config.pbtxt", out / "genrec" / "configs" / "cpu.pbtxt"):
        text = config.read_text()
        assert "max_queue_delay_microseconds: 500\n" in text
        assert "dynamic_batching {\n  preferred_batch_size: [ 64, 128 ]\n" in text
        active = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        want = '  { key: "batch_buckets" value: { string_value: "1,2,4,8,16,32,64,96,128,256" } },'
        assert want in active  # a parameter of its own, not the commented example
        # an existing parameter replaced in place, not added twice
        assert '  { key: "beam" value: { string_value: "20" } },' in active
        assert sum('key: "beam"' in line for line in active) == 1
    label = overrides.label()
    assert (
        label
        == "queue 500 µs; preferred 64,128; batch_buckets=1,2,4,8,16,32,64,96,128,256; beam=20"
    )
    assert not ModelOverrides() and ModelOverrides().label() == ""


def test_an_override_without_its_block_is_refused(tmp_path):
    repo = _repo(tmp_path)
    config = repo / "genrec" / "config.pbtxt"
    config.write_text(re.sub(r"dynamic_batching \{[^}]*\{[^}]*\}\n\}\n", "", config.read_text()))
    with pytest.raises(GenrecError, match="no `max_queue_delay_microseconds`"):
        configured_repo(repo, tmp_path / "out", ModelOverrides(queue_delay_us=100))


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("", (1, 2, 4, 8, 16, 32, 64, 128, 256)),
        ("1,2,4,8,12,16", (1, 2, 4, 8, 12, 16)),
        ("4", (4,)),
    ],
)
def test_batch_buckets_parse(text, sizes):
    assert parse_buckets(text) == sizes


@pytest.mark.parametrize("text", ["1,4,2", "0,1", "1,1,2", "1,x", ","])
def test_batch_buckets_that_are_not_increasing_sizes_are_refused(text):
    with pytest.raises(GenrecError, match="increasing batch sizes"):
        parse_buckets(text)
