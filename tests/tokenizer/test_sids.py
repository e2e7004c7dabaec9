"""Collision level (of a trained catalogue and of items added to it) and code statistics
against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genrec.errors import GenrecError
from genrec.tokenizer.extend import Neighbours, collision_copies
from genrec.tokenizer.sids import add_collision_level, code_stats


def test_collision_level_numbers_duplicates_in_item_order():
    codes = np.array([[1, 2], [3, 4], [1, 2], [1, 2], [3, 5]])
    assert add_collision_level(codes).tolist() == [
        [1, 2, 0], [3, 4, 0], [1, 2, 1], [1, 2, 2], [3, 5, 0],
    ]  # fmt: skip


def test_collision_level_overflow_is_an_error():
    with pytest.raises(GenrecError, match="5 items share one code"):
        add_collision_level(np.zeros((5, 2), np.int64), codebook_size=4)


def _nearest(*rows: list[int]) -> Neighbours:
    index = torch.tensor(rows)
    return Neighbours(index, torch.linspace(1, 0, index.shape[1]).expand(index.shape))


def test_new_items_take_an_existing_path_and_a_copied_collision_token():
    """Every collision token in use gets a copy; a new item goes under the prefix of its
    nearest neighbour that shares its codes, else of its nearest one, with the copy of that
    neighbour's token, or the next neighbour's where that is taken, or another copy where all
    are; existing SIDs stay as they are and all are unique."""
    sids = add_collision_level(np.array([[1, 2], [3, 4], [1, 2], [3, 5]]))
    assert sids.tolist() == [[1, 2, 0], [3, 4, 0], [1, 2, 1], [3, 5, 0]]
    codes = np.array([[1, 2], [3, 4], [7, 7], [1, 2]])
    # item 1: its first neighbour has other codes, its second its own; item 2: codes no item
    # has; item 3: both its neighbours' copies are taken under (1, 2)
    near = _nearest([2, 0], [3, 1], [0, 1], [0, 2])
    new, copies = collision_copies(sids, codes, near, codebook_size=8)
    assert new.tolist() == [[1, 2, 3], [3, 4, 2], [1, 2, 2], [1, 2, 4]]
    assert copies == {2: 0, 3: 1, 4: 0}
    every = np.concatenate([sids, new])
    assert len(np.unique(every, axis=0)) == len(every)


def test_later_adds_reuse_the_copies_earlier_adds_made():
    """Twelve adds of two items each on a 16-token level: copying every token in use on every
    add would double them each time (3, 6, 12, ...) and run out at the third. Copies are made
    once per trained token and reused wherever they are free under a prefix; copies are never
    copied themselves."""
    trained = [[p, q] for p in range(5) for q in range(2)] + [[0, 0], [1, 1], [1, 1]]
    sids = add_collision_level(np.array(trained))  # 10 prefixes, tokens 0, 1, 2 in use
    earlier: dict[int, int] = {}
    for add in range(12):
        n = len(sids)
        # beside trained items in turn, and beside an item an earlier add placed
        codes = np.array([[9, add], [9, add]])
        near = _nearest([(2 * add) % 13, n - 1], [(2 * add + 1) % 13, n - 2])
        new, earlier = collision_copies(sids, codes, near, 16, earlier)
        sids = np.concatenate([sids, new])
        if add == 0:
            assert sorted(earlier.values()) == [0, 1, 2]  # one copy of each trained token
        assert set(earlier.values()) <= {0, 1, 2}  # copies take trained tokens' rows only
        assert len(np.unique(sids, axis=0)) == len(sids)
    assert len(set(sids[:, -1].tolist())) < 16  # 24 items added, and tokens still free


def test_new_items_out_of_collision_tokens_is_an_error():
    sids = add_collision_level(np.array([[1, 2], [1, 2]]))  # tokens 0 and 1 in use
    with pytest.raises(GenrecError, match="1 unused tokens, fewer than the 2 in use"):
        collision_copies(sids, np.array([[1, 2]]), _nearest([0]), codebook_size=3)
    with pytest.raises(GenrecError, match="all 4 collision tokens are in use"):
        collision_copies(sids, np.array([[1, 2]] * 2), _nearest([0], [0]), codebook_size=4)


def test_code_stats():
    codes = np.array([[0, 1], [0, 1], [1, 2], [2, 3]])
    stats = code_stats(codes, codebook_size=4)
    assert stats["collision_rate"] == 0.5  # items 0 and 1 share (0, 1)
    assert stats["max_items_per_code"] == 2
    assert stats["utilization_l1"] == 0.75  # codes 0, 1, 2 of 4
    # level 1 usage (1/2, 1/4, 1/4): perplexity = exp(H) = 2 ** 1.5
    assert stats["perplexity_l1"] == pytest.approx(
        math.exp(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    )
    assert stats["perplexity_l2"] == pytest.approx(2**1.5)
