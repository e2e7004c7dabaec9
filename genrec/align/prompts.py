"""What alignment trains on: prompts cut from the training sequences only.

Self-play and RL use one prompt per user: the ≤ 20 items before the user's last training item
→ that item (the ground truth). Real-feedback DPO (Align3GR's RF-DPO) needs ratings: the chosen
item is the user's last *liked* training item (rating 4–5), the rejected ones the user's
*disliked* (1) or *neutral* (2–3) training items. Validation and test targets are never used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.data.schema import Dataset
from genrec.data.split import Split
from genrec.train.evaluation import pad_histories

LIKED, NEUTRAL = 4.0, 2.0  # rating ≥ 4: liked; 2–3: neutral; 1: disliked (Align3GR's mapping)


@dataclass
class Prompts:
    users: torch.Tensor  # (N,) user indices
    history: torch.Tensor  # (N, H) item indices, oldest first, left-padded with -1
    target: torch.Tensor  # (N,) the item the user chose next (the chosen response)

    def __len__(self) -> int:
        return len(self.users)

    def take(self, index: torch.Tensor) -> Prompts:
        return Prompts(self.users[index], self.history[index], self.target[index])


@dataclass
class Feedback:
    """Rated prompts for RF-DPO: the chosen item is liked; rejected pools are padded with -1."""

    prompts: Prompts
    disliked: torch.Tensor  # (N, R)
    neutral: torch.Tensor  # (N, R)


def _prompts(rows: list[tuple[int, np.ndarray, int]], max_history: int) -> Prompts:
    return Prompts(
        torch.tensor([u for u, _, _ in rows], dtype=torch.long),
        pad_histories([past for _, past, _ in rows], max_history),
        torch.tensor([t for _, _, t in rows], dtype=torch.long),
    )


def last_positions(split: Split) -> Prompts:
    """One prompt per user with ≥ 2 training items: its last training item as the target."""
    rows = [(u, seq[:-1], int(seq[-1])) for u, seq in enumerate(split.train) if len(seq) >= 2]
    return _prompts(rows, split.max_history)


def _padded(pools: list[np.ndarray], width: int) -> torch.Tensor:
    out = np.full((len(pools), width), -1, np.int64)
    for r, pool in enumerate(pools):
        out[r, : min(width, len(pool))] = pool[-width:]
    return torch.from_numpy(out)


def rated_prompts(dataset: Dataset, split: Split, max_rejected: int = 20) -> Feedback | None:
    """Prompts whose target the user liked, with the user's disliked and neutral training items
    (the most recent `max_rejected` of each); None when the dataset has no ratings."""
    if not dataset.has_ratings:
        return None
    rows, disliked, neutral = [], [], []
    for u, seq in enumerate(split.train):
        ratings = dataset.users[u].ratings
        if ratings is None:
            continue
        ratings = ratings[: len(seq)]
        liked = np.flatnonzero(ratings[1:] >= LIKED) + 1  # positions with a history before them
        low, mid = seq[ratings < NEUTRAL], seq[(ratings >= NEUTRAL) & (ratings < LIKED)]
        if not len(liked) or not (len(low) or len(mid)):
            continue
        t = int(liked[-1])
        rows.append((u, seq[:t], int(seq[t])))
        disliked.append(low)
        neutral.append(mid)
    if not rows:
        return None
    return Feedback(
        _prompts(rows, split.max_history),
        _padded(disliked, max_rejected),
        _padded(neutral, max_rejected),
    )
