"""MovieLens-100k: RecBole's atomic files, read as any user's atomic files are
(`genrec.data.tables`, `genrec.data.prepare`) with nothing filtered: every rating counts, a
user's sequence is ordered by timestamp with ties in file order, ratings and timestamps kept.
"""

from __future__ import annotations

from pathlib import Path

from genrec.data import prepare, tables
from genrec.data.readers import require
from genrec.data.schema import Dataset

FOLDER = "movielens-100k"


def load(root: Path) -> Dataset:
    inter = require(root / "ml-100k.inter", "RecBole ml-100k.inter")
    items = require(root / "ml-100k.item", "RecBole ml-100k.item")
    rows = tables.read_rows(inter, tables.ROLES, {}, required=(*tables.REQUIRED, "timestamp"))
    dataset, _ = prepare.build("ml-100k", rows, tables.read_items(items, {}), 0, source=str(root))
    return dataset
