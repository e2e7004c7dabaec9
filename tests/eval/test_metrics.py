"""Recall@K / NDCG@K against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genrec.eval import (
    coverage,
    invalid_rate,
    ndcg_at_k,
    ranks_from_scores,
    ranks_from_topk,
    recall_at_k,
    summarize,
)
from genrec.eval.metrics import INVALID, MISS


def test_hand_computed_ranks():
    ranks = np.array([0, 1, 4, 5, 9, 10, MISS])
    # hits within 5: ranks 0, 1, 4 → 3/7; within 10: + 5, 9 → 5/7
    assert recall_at_k(ranks, 5) == pytest.approx(3 / 7)
    assert recall_at_k(ranks, 10) == pytest.approx(5 / 7)
    dcg5 = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6)
    dcg10 = dcg5 + 1 / math.log2(7) + 1 / math.log2(11)
    assert ndcg_at_k(ranks, 5) == pytest.approx(dcg5 / 7)
    assert ndcg_at_k(ranks, 10) == pytest.approx(dcg10 / 7)
    assert summarize(ranks) == {
        "recall@5": pytest.approx(3 / 7),
        "recall@10": pytest.approx(5 / 7),
        "ndcg@5": pytest.approx(dcg5 / 7),
        "ndcg@10": pytest.approx(dcg10 / 7),
    }


def test_perfect_and_empty():
    assert summarize(np.zeros(4, np.int64)) == {
        "recall@5": 1.0,
        "recall@10": 1.0,
        "ndcg@5": 1.0,
        "ndcg@10": 1.0,
    }
    assert recall_at_k(np.zeros(0, np.int64), 10) == 0.0


def test_ranks_from_scores_full_ranking_and_ties():
    scores = torch.tensor(
        [
            [0.1, 0.9, 0.5, 0.3],  # target 2: one item higher → rank 1
            [0.2, 0.2, 0.2, 0.2],  # target 2: all tied, two lower indices → rank 2
            [0.0, 0.0, 1.0, 0.0],  # target 2: best → rank 0
            [0.4, 0.1, 0.3, 0.2],  # target 1: worst → rank 3
        ]
    )
    ranks = ranks_from_scores(scores, torch.tensor([2, 2, 2, 1]))
    assert ranks.tolist() == [1, 2, 0, 3]


def test_ranks_from_topk_misses_and_invalid():
    topk = np.array([[3, 7, 1], [INVALID, 5, 2], [4, 4, 4]])
    ranks = ranks_from_topk(topk, np.array([7, 2, 9]))
    assert ranks.tolist() == [1, 2, MISS]
    assert invalid_rate(topk, n_items=10) == pytest.approx(1 / 9)
    assert coverage(topk, n_items=10) == pytest.approx(6 / 10)  # {1,2,3,4,5,7}
