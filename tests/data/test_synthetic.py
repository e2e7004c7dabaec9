"""The embedded default: deterministic, the promised size, and structured enough to learn."""

from __future__ import annotations

import numpy as np

from genrec.data import load_dataset
from genrec.data.synthetic import SyntheticConfig, generate


def _fingerprint(ds) -> tuple:
    return (
        tuple(i.title for i in ds.items),
        tuple(tuple(u.items.tolist()) for u in ds.users),
        tuple(tuple(u.ratings.tolist()) for u in ds.users),
    )


def test_deterministic_and_seeded():
    small = SyntheticConfig(n_items=200, n_users=300, n_clusters=8)
    assert _fingerprint(generate(small)) == _fingerprint(generate(small))
    other = SyntheticConfig(n_items=200, n_users=300, n_clusters=8, seed=1)
    assert _fingerprint(generate(small)) != _fingerprint(generate(other))


def test_default_shape_and_fields():
    ds = load_dataset("synthetic")
    assert (ds.n_items, ds.n_users) == (2000, 5000)
    assert min(len(u) for u in ds.users) >= 5
    assert all(i.title and i.brand and len(i.categories) == 2 and i.price > 0 for i in ds.items)
    ratings = np.concatenate([u.ratings for u in ds.users])
    assert set(np.unique(ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(ratings)) == 5
    assert all(np.all(np.diff(u.timestamps) > 0) for u in ds.users)


def test_cold_items_and_transitions():
    ds = load_dataset("synthetic")
    counts = np.bincount(np.concatenate([u.items for u in ds.users]), minlength=ds.n_items)
    assert (counts <= 2).sum() >= 0.03 * ds.n_items  # a cold tail exists
    # Markov structure: the most frequent successor of an item follows it far above chance
    pairs: dict[int, list[int]] = {}
    for u in ds.users:
        for a, b in zip(u.items[:-1], u.items[1:], strict=True):
            pairs.setdefault(int(a), []).append(int(b))
    busy = [nxt for nxt in pairs.values() if len(nxt) >= 20]
    top_share = np.mean([np.bincount(n).max() / len(n) for n in busy])
    assert top_share > 0.15  # uniform over 2,000 items would be ~0.0005
