"""Datasets built once: a dataset that takes seconds to generate or parse is saved as arrays
(`interactions.npz`) and a table (`table.json`) under a key naming everything it was built
from, and later loads read those instead (nanoGPT's `prepare.py` writes its binaries once, for
the same reason). A changed input or builder is a new key, so a stale copy is never read.

The cache lives in `$GENREC_CACHE_DIR`, else `$XDG_CACHE_HOME/genrec/datasets` (by default
`~/.cache/genrec/datasets`): one per user, whichever folder a command runs from."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from genrec.atomic import atomic_folder
from genrec.data.schema import Dataset, Item, User

CACHE_ENV = "GENREC_CACHE_DIR"
FORMAT = 2  # bump when the files below change shape


def cache_dir() -> Path:
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "genrec" / "datasets"


@contextmanager
def using_cache(folder: Path) -> Iterator[None]:
    """Datasets cached in `folder` inside the block (a benchmark timing a first read)."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            del os.environ[CACHE_ENV]
        else:
            os.environ[CACHE_ENV] = previous


def cached(name: str, key: dict, build: Callable[[], Dataset]) -> Dataset:
    """`build()`'s dataset, from the cache when one was saved under the same `key`."""
    digest = hashlib.sha256(json.dumps([FORMAT, key], sort_keys=True).encode()).hexdigest()
    folder = cache_dir() / f"{name}-{digest[:16]}"
    if (folder / "table.json").exists():
        return _read(folder)
    dataset = build()
    try:
        with atomic_folder(folder) as tmp:
            _write(dataset, tmp)
    except OSError:  # another process saved it first, or the cache is not writable: no matter
        pass
    return dataset


def _write(dataset: Dataset, folder: Path) -> None:
    users = dataset.users
    lengths = np.array([len(u) for u in users], dtype=np.int64)
    arrays = {"lengths": lengths, "items": np.concatenate([u.items for u in users])}
    for field in ("ratings", "timestamps"):
        values = [getattr(u, field) for u in users]
        if all(v is not None for v in values):
            arrays[field] = np.concatenate(values)
    np.savez(folder / "interactions.npz", **arrays)
    table = {
        "name": dataset.name,
        "source": dataset.source,
        "meta": dataset.meta,
        "users": [u.id for u in users],
        "items": [
            [i.id, i.title, i.brand, list(i.categories), i.price, i.description]
            for i in dataset.items
        ],
    }
    (folder / "table.json").write_text(json.dumps(table))


def _read(folder: Path) -> Dataset:
    table = json.loads((folder / "table.json").read_text())
    with np.load(folder / "interactions.npz") as z:
        arrays = {k: z[k] for k in z.files}
    bounds = np.cumsum(arrays["lengths"])[:-1]
    split = {
        k: np.split(arrays[k], bounds) for k in ("items", "ratings", "timestamps") if k in arrays
    }
    users = [
        User(
            id=uid,
            items=split["items"][u],
            ratings=split["ratings"][u] if "ratings" in split else None,
            timestamps=split["timestamps"][u] if "timestamps" in split else None,
        )
        for u, uid in enumerate(table["users"])
    ]
    items = [
        Item(id=i, title=t, brand=b, categories=tuple(c), price=p, description=d)
        for i, t, b, c, p, d in table["items"]
    ]
    return Dataset(table["name"], items, users, table["source"], table["meta"])
