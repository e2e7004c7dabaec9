"""The full-ranking harness: one loop that turns any model's output into the shared metrics."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from genrec.data.split import EvalSet
from genrec.eval.metrics import (
    coldstart_recall,
    coldstart_share,
    coverage,
    invalid_rate,
    list_entropy,
    ranks_from_scores,
    ranks_from_topk,
    summarize,
)


class Scorer(Protocol):
    """A model that scores every item of the catalogue for a batch of histories."""

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> torch.Tensor:
        """→ (B, n_items) scores, higher is better."""
        ...


class TopKRecommender(Protocol):
    """A model that generates a ranked list of item ids (e.g. by beam search)."""

    def recommend(self, users: np.ndarray, histories: list[np.ndarray], k: int) -> np.ndarray:
        """→ (B, k) item ids, best first; INVALID (-1) where an output maps to no item."""
        ...


@torch.no_grad()
def evaluate_scorer(
    model: Scorer, data: EvalSet, batch_size: int = 1024, ks: tuple[int, ...] = (5, 10)
) -> dict[str, float]:
    ranks = []
    for start in range(0, len(data), batch_size):
        stop = start + batch_size
        scores = model.score(data.users[start:stop], data.histories[start:stop])
        targets = torch.as_tensor(data.targets[start:stop], device=scores.device)
        ranks.append(ranks_from_scores(scores.float(), targets))
    return summarize(np.concatenate(ranks) if ranks else np.zeros(0, np.int64), ks)


def evaluate_topk(
    model: TopKRecommender,
    data: EvalSet,
    n_items: int,
    batch_size: int = 256,
    ks: tuple[int, ...] = (5, 10),
    cold: np.ndarray | None = None,
) -> dict[str, float]:
    """Metrics of a generative model, plus its invalid-prediction rate and catalogue coverage;
    given the cold-start items (a bool mask), also their share of the lists, Recall on users
    whose target is cold, and the entropy of exposure."""
    k = max(ks)
    lists = [
        model.recommend(data.users[s : s + batch_size], data.histories[s : s + batch_size], k)
        for s in range(0, len(data), batch_size)
    ]
    topk = np.concatenate(lists) if lists else np.zeros((0, k), np.int64)
    metrics = summarize(ranks_from_topk(topk, data.targets), ks)
    metrics["invalid_rate"] = invalid_rate(topk, n_items)
    metrics[f"coverage@{k}"] = coverage(topk, n_items)
    if cold is not None:
        metrics[f"coldstart_share@{k}"] = coldstart_share(topk, cold)
        metrics[f"coldstart_recall@{k}"] = coldstart_recall(topk, data.targets, cold, k)
        metrics[f"entropy@{k}"] = list_entropy(topk)
    return metrics
