"""reports/recipe.*: seeds aggregate into one row per (dataset, variant) beside SASRec's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _run(folder, dataset: str, variant: str, seed: int, recall: float) -> None:
    test = {
        "recall@5": recall / 2, "recall@10": recall, "ndcg@5": recall / 4, "ndcg@10": recall / 3,
        "invalid_rate": 0.0, "params": 100, "train_seconds": 10.0 + seed, "hardware": "cpu",
        "ids": "rqvae:text", "command": f"genrec train -d {dataset} --seed {seed}",
        "stopped_by": "epochs", "best_epoch": 3, "dense_weight": 1.0,
    }  # fmt: skip
    run = folder / f"{dataset}-{variant}-s{seed}"
    run.mkdir(parents=True)
    valid = {"recall@10": recall + 0.01, "ndcg@10": recall / 2}  # the best epoch's
    (run / "genrec.json").write_text(json.dumps({"dataset": dataset, "valid": valid, "test": test}))


def test_bench_recipe_means_over_seeds(tmp_path):
    runs = tmp_path / "runs"
    for seed, recall in enumerate((0.10, 0.12, 0.14)):
        _run(runs, "ml-100k", "default", seed, recall)
    _run(runs, "ml-100k", "no-dense", 0, 0.05)
    for seed, recall in enumerate((0.09, 0.11)):
        row = {"dataset": "ml-100k", "model": "sasrec", "recall@10": recall, "ndcg@10": 0.05}
        popularity = row | {"model": "popularity"}
        (runs / f"sasrec-ml-100k-s{seed}.json").write_text(json.dumps({"rows": [popularity, row]}))
        h50 = row | {"model": "sasrec h50", "recall@10": recall + 0.01}  # a reference only
        (runs / f"sasrec-ml-100k-h50-s{seed}.json").write_text(json.dumps({"rows": [h50]}))
    report = tmp_path / "recipe.json"
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "bench-recipe", str(runs), "--report", str(report)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {r["variant"]: r for r in json.loads(report.read_text())["rows"]}
    default = rows["default"]
    assert default["seeds"] == 3 and default["recall@10"] == pytest.approx(0.12)
    assert default["recall@10_std"] == pytest.approx(0.02)
    assert default["valid_recall@10"] == pytest.approx(0.13)  # what a variant is chosen on
    assert default["sasrec_recall@10"] == pytest.approx(0.10) and default["sasrec_seeds"] == 2
    assert default["sasrec_h50_recall@10"] == pytest.approx(0.11)
    assert len(default["runs"]) == 3 and "bench-recipe" in default["command"]
    assert rows["no-dense"]["seeds"] == 1 and rows["no-dense"]["recall@10_std"] == 0.0
    assert report.with_suffix(".png").stat().st_size > 0
    assert "| ml-100k | default | 3 |" in report.with_suffix(".md").read_text()


def test_bench_recipe_refuses_a_missing_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "bench-recipe", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "no such folder" in result.stderr
    assert "Traceback" not in result.stderr
