"""MovieLens-100k (RecBole atomic files): explicit ratings 1-5 and Unix timestamps kept.

Every rating counts as an interaction; a user's sequence is ordered by timestamp, ties kept
in file order (a stable sort), so the split is reproducible.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from genrec.data.readers import parse_float, parse_int, read_tsv
from genrec.data.schema import Dataset, Item, User
from genrec.errors import DataError

FOLDER = "movielens-100k"
INTER_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
ITEM_HEADER = ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"]


def load(root: Path) -> Dataset:
    item_path = root / "ml-100k.item"
    items: list[Item] = []
    index: dict[str, int] = {}
    for _, row in read_tsv(item_path, ITEM_HEADER, "RecBole ml-100k.item"):
        title = row[1].strip()
        year = row[2].strip()
        index[row[0]] = len(items)
        items.append(
            Item(
                id=row[0],
                title=f"{title} ({year})" if year else title,
                categories=tuple(row[3].split()),
            )
        )

    inter_path = root / "ml-100k.inter"
    per_user: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for lineno, row in read_tsv(inter_path, INTER_HEADER, "RecBole ml-100k.inter"):
        if row[1] not in index:
            raise DataError(f"{inter_path}:{lineno}: item {row[1]!r} is not in {item_path.name}")
        rating = parse_float(row[2], inter_path, lineno, "rating")
        timestamp = parse_float(row[3], inter_path, lineno, "timestamp")
        if rating is None or timestamp is None:
            raise DataError(f"{inter_path}:{lineno}: rating and timestamp are required")
        per_user[row[0]].append((int(timestamp), index[row[1]], rating))

    users: list[User] = []
    for user_id in sorted(per_user, key=lambda u: parse_int(u, inter_path, 0, "user")):
        events = sorted(per_user[user_id], key=lambda e: e[0])  # stable: ties keep file order
        users.append(
            User(
                id=user_id,
                items=np.array([e[1] for e in events], np.int64),
                ratings=np.array([e[2] for e in events], np.float32),
                timestamps=np.array([e[0] for e in events], np.int64),
            )
        )
    return Dataset(name="ml-100k", items=items, users=users, source=str(root)).validate()
