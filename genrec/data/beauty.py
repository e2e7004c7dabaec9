"""Amazon 2014 Beauty 5-core as preprocessed by P5 (the TIGER / LETTER benchmark split).

Sequences come from `p5/sequential_data.txt` (1-based P5 indices); text joins P5 index →
`datamaps.json["id2item"]` → ASIN → RecBole's `item_meta/Amazon_Beauty.item`.
"""

from __future__ import annotations

import ast
import html
from pathlib import Path

import numpy as np

from genrec.data.readers import parse_float, parse_int, read_json, read_tsv, require
from genrec.data.schema import Dataset, Item, User
from genrec.errors import DataError

FOLDER = "amazon-beauty-2014-p5"
META_HEADER = [
    "item_id:token",
    "title:token",
    "sales_type:token",
    "sales_rank:float",
    "categories:token_seq",
    "price:float",
    "brand:token",
]


def _clean(text: str) -> str | None:
    text = html.unescape(text).strip()
    return text or None


def _categories(raw: str) -> tuple[str, ...]:
    """`'Beauty', 'Makeup', 'Face'` → ('Beauty', 'Makeup', 'Face')."""
    raw = raw.strip()
    if not raw:
        return ()
    try:
        parsed = ast.literal_eval(f"[{raw}]")
    except (ValueError, SyntaxError):
        return tuple(c.strip(" '\"") for c in raw.split(",") if c.strip(" '\""))
    return tuple(html.unescape(str(c)).strip() for c in parsed if str(c).strip())


def _read_meta(path: Path) -> dict[str, Item]:
    expected = "RecBole Amazon_Beauty.item"
    meta: dict[str, Item] = {}
    for lineno, row in read_tsv(path, META_HEADER, expected, quoted=True):
        asin = row[0]
        meta[asin] = Item(
            id=asin,
            title=_clean(row[1]),
            brand=_clean(row[6]),
            categories=_categories(row[4]),
            price=parse_float(row[5], path, lineno, "price"),
        )
    return meta


def load(root: Path) -> Dataset:
    seq_path = require(root / "p5" / "sequential_data.txt", "P5 '<user> <item> <item> ...' lines")
    maps = read_json(root / "p5" / "datamaps.json", "P5 datamaps with id2item / id2user")
    if not isinstance(maps, dict) or "id2item" not in maps or "id2user" not in maps:
        raise DataError(f"{root / 'p5' / 'datamaps.json'}: expected keys 'id2item' and 'id2user'")
    meta = _read_meta(root / "item_meta" / "Amazon_Beauty.item")

    id2item: dict[str, str] = maps["id2item"]
    n_items = len(id2item)
    items: list[Item] = []
    for idx in range(1, n_items + 1):
        asin = id2item.get(str(idx))
        if asin is None:
            raise DataError(f"{root / 'p5' / 'datamaps.json'}: id2item lacks item {idx}")
        items.append(meta.get(asin, Item(id=asin)))

    users: list[User] = []
    with seq_path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise DataError(f"{seq_path}:{lineno}: expected '<user> <item> ...', got {line!r}")
            user_idx = fields[0]
            seq = [parse_int(v, seq_path, lineno, "item index") - 1 for v in fields[1:]]
            users.append(
                User(id=maps["id2user"].get(user_idx, user_idx), items=np.asarray(seq, np.int64))
            )
    return Dataset(name="beauty", items=items, users=users, source=str(root)).validate()
