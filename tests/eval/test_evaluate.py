"""Score-based and top-K paths of the harness agree on the same model."""

from __future__ import annotations

import pytest

from genrec.baselines.popularity import Popularity
from genrec.data import leave_one_out
from genrec.eval import evaluate_scorer, evaluate_topk


def test_popularity_scores_and_lists_agree(small_synthetic):
    split = leave_one_out(small_synthetic)
    model = Popularity(split.train, split.n_items)
    by_score = evaluate_scorer(model, split.test, batch_size=100)
    by_list = evaluate_topk(model, split.test, split.n_items, batch_size=100)
    for key, value in by_score.items():
        assert by_list[key] == pytest.approx(value)
    assert by_list["invalid_rate"] == 0.0
    assert by_list["coverage@10"] == pytest.approx(10 / split.n_items)
    assert by_score["recall@10"] > 0.0
