"""The dataset cache: what it reads back is what was built, field for field, and a different
key builds again."""

from __future__ import annotations

import numpy as np

from genrec.data import load_dataset
from genrec.data.cache import cache_dir, cached
from genrec.data.synthetic import SyntheticConfig, generate


def _same(a, b) -> bool:
    users = all(
        x.id == y.id
        and np.array_equal(x.items, y.items)
        and np.array_equal(x.ratings, y.ratings)
        and np.array_equal(x.timestamps, y.timestamps)
        for x, y in zip(a.users, b.users, strict=True)
    )
    return users and a.items == b.items and (a.name, a.source, a.meta) == (b.name, b.source, b.meta)


def test_a_cached_dataset_reads_back_whole(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREC_CACHE_DIR", str(tmp_path))
    cfg = SyntheticConfig(n_items=120, n_users=200, n_clusters=6, seed=3)
    builds = []

    def build():
        builds.append(1)
        return generate(cfg, "tiny")

    first = cached("tiny", {"seed": 3}, build)
    again = cached("tiny", {"seed": 3}, build)
    assert len(builds) == 1 and _same(first, again) and again.validate()
    assert again.fingerprint() == first.fingerprint()
    cached("tiny", {"seed": 4}, build)  # another key: built again, saved beside
    assert len(builds) == 2 and len(list(cache_dir().glob("tiny-*"))) == 2


def test_ids_only_data_keeps_its_missing_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREC_CACHE_DIR", str(tmp_path))
    full = generate(SyntheticConfig(n_items=50, n_users=60, n_clusters=3, seed=1))
    bare = type(full)("bare", full.items, [type(u)(u.id, u.items) for u in full.users], "test", {})
    back = cached("bare", {}, lambda: bare)
    back = cached("bare", {}, lambda: None)
    assert (
        not back.has_ratings
        and not back.has_timestamps
        and back.n_interactions == bare.n_interactions
    )


def test_the_embedded_default_is_the_generators_output(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREC_CACHE_DIR", str(tmp_path))
    built, read = load_dataset("synthetic"), load_dataset("synthetic")  # the second from disk
    assert _same(built, generate()) and _same(read, generate())
