"""Leave-one-out exactly as TIGER / LC-Rec: test = last, valid = second-to-last, history ≤ 20."""

from __future__ import annotations

import numpy as np

from genrec.data import Dataset, Item, User, leave_one_out


def _dataset(seqs: list[list[int]], n_items: int = 40) -> Dataset:
    items = [Item(id=str(i)) for i in range(n_items)]
    users = [User(id=str(u), items=np.asarray(s, np.int64)) for u, s in enumerate(seqs)]
    return Dataset(name="toy", items=items, users=users).validate()


def test_targets_and_train():
    split = leave_one_out(_dataset([[1, 2, 3, 4, 5], [7, 8, 9]]))
    assert split.test.targets.tolist() == [5, 9]
    assert split.valid.targets.tolist() == [4, 8]
    assert [h.tolist() for h in split.test.histories] == [[1, 2, 3, 4], [7, 8]]
    assert [h.tolist() for h in split.valid.histories] == [[1, 2, 3], [7]]
    assert [t.tolist() for t in split.train] == [[1, 2, 3], [7]]


def test_history_capped_at_20():
    seq = list(range(30))
    split = leave_one_out(_dataset([seq]))
    assert split.test.histories[0].tolist() == list(range(9, 29))
    assert split.valid.histories[0].tolist() == list(range(8, 28))
    assert split.train[0].tolist() == list(range(28))  # training keeps the whole prefix


def test_short_users_trained_not_evaluated():
    split = leave_one_out(_dataset([[1, 2], [3, 4, 5]]))
    assert split.test.users.tolist() == [1]
    assert [t.tolist() for t in split.train] == [[1, 2], [3]]


def test_no_test_item_leaks_into_train(real_dataset):
    ds = real_dataset("beauty")
    split = leave_one_out(ds)
    for u in range(0, ds.n_users, 997):
        seq = ds.users[u].items
        assert len(split.train[u]) == len(seq) - 2
        assert split.test.histories[u].tolist() == seq[:-1][-20:].tolist()
