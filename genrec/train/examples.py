"""Training examples for page-wise NTP: (user, history items → the page of the next k items).

Every position t ≥ 1 of a user's training sequence is one example: the ≤ 20 items before it
(the protocol's cap) as history, items t .. t+k-1 as the page (shorter at the sequence's end;
k = 1 is next-item NTP). Items, not tokens, are stored: the decoder builds its own prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.data.split import Split


@dataclass
class Examples:
    users: torch.Tensor  # (N,) user indices
    history: torch.Tensor  # (N, H) item indices, oldest first, left-padded with -1
    page: torch.Tensor  # (N, k) item indices, right-padded with -1

    def __len__(self) -> int:
        return len(self.users)

    def to(self, device: torch.device) -> Examples:
        """All examples on the training device (tens of MB), so a step gathers its batch there
        instead of copying it from the host."""
        return Examples(self.users.to(device), self.history.to(device), self.page.to(device))


def page_examples(split: Split, page_size: int = 1) -> Examples:
    H = split.max_history
    rows = [(u, t) for u, seq in enumerate(split.train) for t in range(1, len(seq))]
    users = np.fromiter((u for u, _ in rows), dtype=np.int64, count=len(rows))
    history = np.full((len(rows), H), -1, np.int64)
    page = np.full((len(rows), page_size), -1, np.int64)
    for r, (u, t) in enumerate(rows):
        seq = split.train[u]
        past = seq[max(0, t - H) : t]
        history[r, H - len(past) :] = past
        nxt = seq[t : t + page_size]
        page[r, : len(nxt)] = nxt
    return Examples(torch.from_numpy(users), torch.from_numpy(history), torch.from_numpy(page))
