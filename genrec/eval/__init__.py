"""One implementation of the ranking metrics and the full-ranking harness, shared by every model."""

from genrec.eval.evaluate import Scorer, evaluate_scorer, evaluate_topk
from genrec.eval.metrics import (
    coverage,
    invalid_rate,
    ndcg_at_k,
    ranks_from_scores,
    ranks_from_topk,
    recall_at_k,
    summarize,
)

__all__ = [
    "Scorer",
    "coverage",
    "evaluate_scorer",
    "evaluate_topk",
    "invalid_rate",
    "ndcg_at_k",
    "ranks_from_scores",
    "ranks_from_topk",
    "recall_at_k",
    "summarize",
]
