"""The evaluation protocol of TIGER / LC-Rec / Align3GR: leave-one-out with capped history.

Per user: test target = last item, validation target = second-to-last, training sequence =
everything before that. Histories given to a model are the last `max_history` items before
the target: `genrec.contract.MAX_HISTORY` (20), the served model's cap too, unless a run asks
for another. Ranking is over the full catalogue (see genrec.eval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec.contract import MAX_HISTORY
from genrec.data.schema import Dataset


@dataclass(frozen=True)
class EvalSet:
    users: np.ndarray  # (N,) user indices into Dataset.users
    histories: list[np.ndarray]  # N arrays of ≤ max_history item indices, oldest first
    targets: np.ndarray  # (N,) the held-out item

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, index: np.ndarray) -> EvalSet:
        """The users at `index` (e.g. a fixed random subset for per-epoch validation)."""
        return EvalSet(self.users[index], [self.histories[i] for i in index], self.targets[index])


@dataclass(frozen=True)
class Split:
    n_items: int
    train: list[np.ndarray]  # per user, the training sequence (all but the last two items)
    valid: EvalSet
    test: EvalSet
    max_history: int


def _eval_set(dataset: Dataset, users: list[int], offset: int, max_history: int) -> EvalSet:
    histories, targets = [], []
    for u in users:
        seq = dataset.users[u].items
        cut = len(seq) - offset
        histories.append(seq[max(0, cut - max_history) : cut])
        targets.append(seq[cut])
    return EvalSet(np.asarray(users, np.int64), histories, np.asarray(targets, np.int64))


def leave_one_out(dataset: Dataset, max_history: int = MAX_HISTORY) -> Split:
    """Users with fewer than 3 interactions are trained on but not evaluated."""
    evaluable = [u for u, user in enumerate(dataset.users) if len(user) >= 3]
    train = [u.items[:-2] if len(u) >= 3 else u.items for u in dataset.users]
    return Split(
        n_items=dataset.n_items,
        train=train,
        valid=_eval_set(dataset, evaluable, 2, max_history),
        test=_eval_set(dataset, evaluable, 1, max_history),
        max_history=max_history,
    )
