"""Most-popular items: the floor every personalised model must clear."""

from __future__ import annotations

import numpy as np
import torch


class Popularity:
    def __init__(self, train: list[np.ndarray], n_items: int):
        counts = (
            np.bincount(np.concatenate(train), minlength=n_items) if train else np.zeros(n_items)
        )
        self.counts = torch.as_tensor(counts, dtype=torch.float32)  # (n_items,)

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> torch.Tensor:
        return self.counts.expand(len(users), -1)  # (B, n_items)

    def recommend(self, users: np.ndarray, histories: list[np.ndarray], k: int) -> np.ndarray:
        order = torch.argsort(self.counts, descending=True, stable=True)[:k].numpy()
        return np.tile(order, (len(users), 1))  # (B, k)
