"""Reports merge rows by key, so separate runs fill one report without erasing each other."""

from __future__ import annotations

import json

from genrec.bench.report import markdown_table, merge_rows


def test_merge_replaces_same_key_and_keeps_others(tmp_path):
    path = tmp_path / "r.json"
    merge_rows(path, [{"dataset": "a", "model": "m", "x": 1.0}], key=("dataset", "model"))
    merge_rows(path, [{"dataset": "b", "model": "m", "x": 2.0}], key=("dataset", "model"))
    rows = merge_rows(path, [{"dataset": "a", "model": "m", "x": 3.0}], key=("dataset", "model"))
    assert rows == json.loads(path.read_text())["rows"]
    assert [(r["dataset"], r["x"]) for r in rows] == [("a", 3.0), ("b", 2.0)]


def test_markdown_table():
    table = markdown_table([{"a": 0.12345, "b": "x|y", "c": 61.04}], ["a", "b", "c"])
    assert table.splitlines() == ["| a | b | c |", "|---|---|---|", "| 0.1235 | x\\|y | 61.0 |"]
