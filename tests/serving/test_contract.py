"""One owner per contract: the Triton configurations declare exactly `genrec.contract`'s tensors,
neither the model's side nor the gateway's spells a name of it, and the module itself stays
importable without torch or the rest of the library (the gateway's image holds it alone)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from genrec.contract import (
    CHECKPOINT_FILES,
    INPUTS,
    MAX_HISTORY,
    OUTPUTS,
    STATS,
    STORE_FILES,
    STORE_PIN,
    VERSION_FILES,
    Stats,
)
from service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "model_repo" / "genrec").glob("**/*.pbtxt"))


def _config(path: Path) -> model_config_pb2.ModelConfig:
    """Parsed as Triton parses it: unknown fields or bad values fail here too."""
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _signature(tensors) -> list[tuple[str, str]]:
    return [(t.name, model_config_pb2.DataType.Name(t.data_type)) for t in tensors]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_triton_configs_declare_the_contract_tensors(path):
    config = _config(path)
    assert sorted(_signature(config.input)) == sorted(
        (t.name, f"TYPE_{t.datatype}") for t in INPUTS
    )
    optional = {t.name for t in config.input if t.optional}
    assert optional == {t.name for t in INPUTS if t.optional}
    assert _signature(config.output) == [(t.name, f"TYPE_{t.datatype}") for t in OUTPUTS]
    (stats,) = [t for t in config.output if t.name == STATS.name]
    assert list(stats.dims) == [Stats.size()]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_tracked_configs_pin_no_store(path):
    """The store pin is each exported version's (export.json), so `genrec export` never has to
    edit a tracked configuration; a deployment may still add one as an override."""
    assert STORE_PIN not in _config(path).parameters


def _literals(path: Path) -> set[str]:
    """The file's string constants, but for keys (`meta["tokenizer_store"]`, `{"dataset": ...}`):
    JSON fields are their own files' business, and some share a word with a file name."""
    tree = ast.parse(path.read_text())
    keys = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    keys |= {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys}
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in keys
    }


CONTRACT_NAMES = {t.name for t in (*INPUTS, *OUTPUTS)} | {
    name
    for files in (VERSION_FILES, STORE_FILES, CHECKPOINT_FILES)
    for name in astuple(files)
}  # fmt: skip

SIDES = [
    REPO / "model_repo" / "genrec" / "model.py",
    *sorted((REPO / "service").glob("**/*.py")),
    *(REPO / "genrec" / name for name in ("serving.py", "export.py", "local_stack.py")),
    REPO / "genrec" / "tokenizer" / "store.py",
    REPO / "genrec" / "model" / "checkpoint.py",
]


@pytest.mark.parametrize("path", SIDES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_side_of_the_contract_spells_its_names(path):
    """Each side imports the names from genrec.contract; a literal would be a second owner."""
    assert _literals(path) & CONTRACT_NAMES == set()


def test_the_contract_imports_no_torch_and_nothing_else_of_genrec():
    code = (
        "import sys, genrec.contract\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
        "assert [m for m in sys.modules if m.startswith('genrec.')] == ['genrec.contract']\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_stats_round_trip_in_field_order():
    stats = Stats(prompt_tokens=7, prompt_us=120, decode_us=3400, batch=5)
    other = Stats(prompt_tokens=3, prompt_us=120, decode_us=3400, batch=5)
    rows = Stats.pack([stats, other])  # a two-page request's STATS
    assert rows.dtype == STATS.dtype and rows.tolist() == [[7, 120, 3400, 5], [3, 120, 3400, 5]]
    row = rows[0]
    assert Stats.from_array(row) == stats and Stats.from_array(rows[1]) == other
    assert all(isinstance(v, int) for v in astuple(Stats.from_array(np.asarray(row))))


def test_the_history_cap_bounds_the_gateway_settings():
    """The gateway sends at most the model's cap; Redis (and the chart) keep at least that."""
    fields = Settings.model_fields
    assert fields["history_len"].default == MAX_HISTORY
    schema = json.loads((REPO / "helm" / "genrec" / "values.schema.json").read_text())
    settings = schema["properties"]["gateway"]["properties"]["settings"]["properties"]
    assert settings["historyMax"]["minimum"] == MAX_HISTORY
    with pytest.raises(ValueError, match="less than or equal to 20"):
        Settings(history_len=MAX_HISTORY + 1)
