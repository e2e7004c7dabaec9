"""Each loader reproduces the counts stated in its folder's SOURCE.md."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

# name → (users, items, interactions, items with text), from each SOURCE.md
EXPECTED = {
    "beauty": (22_363, 12_101, 198_502, 12_101),
    "instruments": (24_772, 9_922, 206_153, 0),
    "scientific": (8_442, 4_385, 59_427, 4_385),
    "ml-100k": (943, 1_682, 100_000, 1_682),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_match_source(real_dataset, name):
    ds = real_dataset(name)
    users, items, interactions, with_text = EXPECTED[name]
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (users, items, interactions)
    assert sum(item.has_text for item in ds.items) == with_text
    assert len({u.id for u in ds.users}) == users
    assert len({i.id for i in ds.items}) == items
    assert min(len(u) for u in ds.users) >= 5  # all four are 5-core (ML-100k: ≥ 20 ratings)


def test_beauty_text_fields(real_dataset):
    ds = real_dataset("beauty")
    assert sum(i.title is not None for i in ds.items) == 12_094
    assert sum(bool(i.categories) for i in ds.items) == 12_101
    assert sum(i.brand is not None for i in ds.items) == 10_003
    assert sum(i.price is not None for i in ds.items) == 11_516
    assert all("&amp;" not in (i.title or "") for i in ds.items)  # HTML entities decoded
    assert ds.items[0].categories[0] == "Beauty"
    # P5's first line is "1 1 2 3 4 5": user 1 bought items 1..5 (1-based)
    assert ds.users[0].items.tolist() == [0, 1, 2, 3, 4]


def test_beauty_matches_letter_copy(real_dataset, data_dir):
    """LETTER's 0-based copy of the same data agrees item for item (SOURCE.md)."""
    letter = json.loads((data_dir / "amazon-beauty-2014-p5/letter/Beauty.inter.json").read_text())
    ds = real_dataset("beauty")
    assert all(ds.users[int(u)].items.tolist() == seq for u, seq in letter.items())


def test_instruments_ids_only(real_dataset):
    ds = real_dataset("instruments")
    assert not ds.has_text and not ds.has_ratings
    assert ds.items[0].id == "B000FFWZKI"


def test_scientific_sequences_rebuilt(real_dataset):
    ds = real_dataset("scientific")
    # test.inter row 0: user 0, history 0..12, target 13
    assert ds.users[0].items.tolist() == list(range(14))
    assert max(len(u) for u in ds.users) > 50  # the three users past RecBole's 50-item cap
    assert all(i.title for i in ds.items)


def test_movielens_ratings_and_time(real_dataset):
    ds = real_dataset("ml-100k")
    ratings = Counter(np.concatenate([u.ratings for u in ds.users]).astype(int).tolist())
    assert ratings == {1: 6_110, 2: 11_370, 3: 27_145, 4: 34_174, 5: 21_201}
    stamps = np.concatenate([u.timestamps for u in ds.users])
    assert (stamps.min(), stamps.max()) == (874_724_710, 893_286_638)
    assert all(np.all(np.diff(u.timestamps) >= 0) for u in ds.users)
    assert ds.items[0].title == "Toy Story (1995)"
    assert ds.items[0].categories == ("Animation", "Children's", "Comedy")
