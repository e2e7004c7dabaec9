"""Recall@K and NDCG@K for one held-out item per user, from 0-based ranks.

Every model reduces to a rank of the target: score-based models through `ranks_from_scores`
(full ranking over the catalogue, ties broken by item index so results are reproducible),
generative models through `ranks_from_topk` (a target absent from the list never hits).
"""

from __future__ import annotations

import numpy as np
import torch

MISS = np.iinfo(np.int64).max  # the rank of a target a generative model did not produce
INVALID = -1  # marks a generated id that maps to no item


def ranks_from_scores(scores: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """scores (B, n_items), targets (B,) → (B,) ranks.

    A rank counts the items scored higher, plus those scored equal with a lower index.
    """
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    higher = (scores > target_scores).sum(1)
    index = torch.arange(scores.shape[1], device=scores.device)[None, :]
    tied_before = ((scores == target_scores) & (index < targets[:, None])).sum(1)
    return (higher + tied_before).cpu().numpy().astype(np.int64)


def ranks_from_topk(topk: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """topk (B, K) item ids, best first (INVALID allowed), targets (B,) → (B,) ranks or MISS."""
    hits = topk == targets[:, None]
    first = hits.argmax(1)
    return np.where(hits.any(1), first, MISS).astype(np.int64)


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg_at_k(ranks: np.ndarray, k: int) -> float:
    """With one relevant item the ideal DCG is 1, so NDCG is 1 / log2(rank + 2) inside the top k."""
    if not len(ranks):
        return 0.0
    hit = ranks < k
    gains = np.zeros(len(ranks))
    gains[hit] = 1.0 / np.log2(ranks[hit] + 2.0)
    return float(gains.mean())


def summarize(ranks: np.ndarray, ks: tuple[int, ...] = (5, 10)) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(ranks, k)
    for k in ks:
        out[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
    return out


def invalid_rate(topk: np.ndarray, n_items: int) -> float:
    """Share of generated ids that are not items of the catalogue (a generative model's failure)."""
    if topk.size == 0:
        return 0.0
    return float(np.mean((topk < 0) | (topk >= n_items)))


def coverage(topk: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list."""
    valid = topk[(topk >= 0) & (topk < n_items)]
    return float(len(np.unique(valid)) / n_items) if n_items else 0.0


def cold_start_mask(train: list[np.ndarray], n_items: int, share: float = 0.2) -> np.ndarray:
    """(n_items,) bool: the `share` of the catalogue least frequent in the training sequences
    (ties by item index), i.e. the items a popularity-biased model starves of exposure."""
    counts = np.bincount(np.concatenate(train), minlength=n_items) if train else np.zeros(n_items)
    order = np.lexsort((np.arange(n_items), counts))  # by count, then index
    cold = np.zeros(n_items, dtype=bool)
    cold[order[: round(share * n_items)]] = True
    return cold


def coldstart_share(topk: np.ndarray, cold: np.ndarray) -> float:
    """Share of the recommended slots (valid ids) filled with cold-start items."""
    valid = topk[(topk >= 0) & (topk < len(cold))]
    return float(cold[valid].mean()) if valid.size else 0.0


def coldstart_recall(topk: np.ndarray, targets: np.ndarray, cold: np.ndarray, k: int) -> float:
    """Recall@k over the users whose held-out item is cold-start."""
    rows = cold[targets]
    return recall_at_k(ranks_from_topk(topk[rows], targets[rows]), k) if rows.any() else 0.0


def list_entropy(topk: np.ndarray) -> float:
    """Shannon entropy (nats) of the item distribution over all lists: how evenly exposure is
    spread (log of the catalogue size at most; low = everyone sees the same items)."""
    valid = topk[topk >= 0]
    if not valid.size:
        return 0.0
    p = np.unique(valid, return_counts=True)[1] / valid.size
    return float(-(p * np.log(p)).sum())


def page_diversity(pages: np.ndarray, first_codes: np.ndarray) -> float:
    """Mean number of distinct first SID codes (the coarsest semantic level) per page."""
    return float(
        np.mean([len(np.unique(first_codes[p[p >= 0]])) for p in pages]) if len(pages) else 0.0
    )


def page_duplicates(pages: np.ndarray) -> float:
    """Mean number of slots per page that repeat an item already on the page."""
    return float(
        np.mean([(p >= 0).sum() - len(np.unique(p[p >= 0])) for p in pages]) if len(pages) else 0.0
    )
