"""Collision level and code statistics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genrec.errors import GenrecError
from genrec.tokenizer.sids import add_collision_level, code_stats


def test_collision_level_numbers_duplicates_in_item_order():
    codes = np.array([[1, 2], [3, 4], [1, 2], [1, 2], [3, 5]])
    assert add_collision_level(codes).tolist() == [
        [1, 2, 0], [3, 4, 0], [1, 2, 1], [1, 2, 2], [3, 5, 0],
    ]  # fmt: skip


def test_collision_level_overflow_is_an_error():
    with pytest.raises(GenrecError, match="5 items share one code"):
        add_collision_level(np.zeros((5, 2), np.int64), codebook_size=4)


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
