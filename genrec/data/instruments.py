"""Amazon 2018 Musical Instruments 5-core as processed by LC-Rec (ids only, no item text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.data.readers import read_id_map, read_json
from genrec.data.schema import Dataset, Item, User
from genrec.errors import DataError

FOLDER = "amazon-instruments-2018-lcrec"


def load(root: Path) -> Dataset:
    inter_path = root / "Instruments.inter.json"
    inter = read_json(inter_path, 'LC-Rec {"<user>": [item, ...]} with 0-based indices')
    if not isinstance(inter, dict):
        raise DataError(f"{inter_path}: expected a JSON object of user → item list")
    asins = read_id_map(root / "Instruments.item2id", "'<ASIN>\\t<item index>' lines")
    reviewers = read_id_map(root / "Instruments.user2id", "'<reviewerID>\\t<user index>' lines")
    if sorted(asins) != list(range(len(asins))):
        raise DataError(f"{root / 'Instruments.item2id'}: item indices are not 0..n-1")

    items = [Item(id=asins[i]) for i in range(len(asins))]
    users: list[User] = []
    for user_idx in sorted(inter, key=int):
        seq = inter[user_idx]
        if not isinstance(seq, list) or not all(isinstance(i, int) for i in seq):
            raise DataError(f"{inter_path}: user {user_idx}: expected a list of item indices")
        user_id = reviewers.get(int(user_idx), user_idx)
        users.append(User(id=user_id, items=np.asarray(seq, np.int64)))
    return Dataset(name="instruments", items=items, users=users, source=str(root)).validate()
