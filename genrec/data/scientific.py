"""Amazon 2018 Industrial & Scientific 5-core, the UniSRec "Scientific" files.

The source ships RecBole's split (one row per prefix), not sequences; each user's sequence is
rebuilt by chaining rows: the row whose `item_id_list` equals the sequence so far (or its last
50 items, RecBole's cap) gives the next item. Every row must be used exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from genrec.data.readers import parse_int, read_id_map, read_tsv
from genrec.data.schema import Dataset, Item, User
from genrec.errors import DataError

FOLDER = "amazon-scientific-2018-unisrec"
INTER_HEADER = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
TEXT_HEADER = ["item_id:token", "text:token_seq"]
LIST_CAP = 50


def _split_text(text: str) -> tuple[str | None, str | None, str | None]:
    """`"<title>. <categories>. <brand>. "` → (title, categories, brand); empty parts → None."""
    body = text.strip()
    body = body.removesuffix(".")
    parts = [p.strip() for p in body.rsplit(". ", 2)]
    parts = [""] * (3 - len(parts)) + parts
    title, categories, brand = (p.rstrip(".").strip() or None for p in parts)
    return title, categories, brand


def _rebuild(user: int, rows: list[tuple[list[int], int]], root: Path) -> list[int]:
    by_prefix = {tuple(prefix): target for prefix, target in rows}
    seq = list(min(rows, key=lambda r: len(r[0]))[0])
    while (key := tuple(seq[-LIST_CAP:])) in by_prefix:
        seq.append(by_prefix.pop(key))
    if by_prefix:
        raise DataError(f"{root}: user {user}: {len(by_prefix)} interaction rows do not chain")
    return seq


def load(root: Path) -> Dataset:
    asins = read_id_map(root / "Scientific.item2index", "'<ASIN>\\t<item index>' lines")
    reviewers = read_id_map(root / "Scientific.user2index", "'<reviewerID>\\t<user index>' lines")
    text_path = root / "Scientific.text"
    texts: dict[str, str] = {
        row[0]: row[1] for _, row in read_tsv(text_path, TEXT_HEADER, "UniSRec Scientific.text")
    }

    items: list[Item] = []
    for idx in range(len(asins)):
        asin = asins.get(idx)
        if asin is None:
            raise DataError(f"{root / 'Scientific.item2index'}: item {idx} missing")
        title, category, brand = _split_text(texts.get(asin, ""))
        items.append(
            Item(id=asin, title=title, brand=brand, categories=(category,) if category else ())
        )

    rows: dict[int, list[tuple[list[int], int]]] = defaultdict(list)
    for split in ("train", "valid", "test"):
        path = root / f"Scientific.{split}.inter"
        for lineno, row in read_tsv(path, INTER_HEADER, f"RecBole {split} interactions"):
            user = parse_int(row[0], path, lineno, "user")
            prefix = [parse_int(v, path, lineno, "item") for v in row[1].split()]
            rows[user].append((prefix, parse_int(row[2], path, lineno, "item")))

    users = [
        User(id=reviewers.get(u, str(u)), items=np.asarray(_rebuild(u, rows[u], root), np.int64))
        for u in sorted(rows)
    ]
    return Dataset(name="scientific", items=items, users=users, source=str(root)).validate()
