"""Reports merge rows by key, so separate runs fill one report without erasing each other."""

from __future__ import annotations

import json

from genrec.bench.report import markdown_table, merge_rows
from genrec.pipelines.identity import run_id


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


def test_rows_differing_only_in_run_id_both_stay(tmp_path):
    """Two `genrec train` runs with the same label but other options (e.g. --epochs before it
    was part of the label) keep a row each: rows are keyed by the configuration's hash."""
    a, b = {"epochs": 10, "lr": 1e-3}, {"epochs": 18, "lr": 1e-3}
    assert run_id(a) == run_id(dict(reversed(a.items())))  # canonical: key order is not identity
    assert run_id(a) != run_id(b)
    path, key = tmp_path / "r.json", ("dataset", "model", "run_id")
    old = {"dataset": "beauty", "model": "decoder-5m"}  # a row from before run ids
    merge_rows(path, [old], key)
    merge_rows(path, [old | {"run_id": run_id(a)}], key)
    rows = merge_rows(path, [old | {"run_id": run_id(b)}], key)
    assert len(rows) == 3
    again = merge_rows(path, [old | {"run_id": run_id(b), "recall@10": 0.1}], key)
    assert len(again) == 3 and sum("recall@10" in r for r in again) == 1
