"""The compiled trie agrees with the item → SID table, exhaustively."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.tokenizer.sids import add_collision_level
from genrec.tokenizer.trie import Trie


def _walk(trie: Trie, sids: np.ndarray) -> torch.Tensor:
    """Follow every SID from the root, checking each token is allowed → reached leaves."""
    nodes = torch.zeros(len(sids), dtype=torch.long)
    for level in range(trie.depth):
        tokens = torch.from_numpy(sids[:, level])
        assert trie.allowed(level, nodes).gather(1, tokens[:, None]).all()
        nodes = trie.advance(level, nodes, tokens)
        assert (nodes >= 0).all()
    return nodes


def _leaves(trie: Trie) -> list[int]:
    """Every root-to-leaf path, enumerated through `allowed` alone."""
    frontier = torch.zeros(1, dtype=torch.long)
    for level in range(trie.depth):
        mask = trie.allowed(level, frontier)
        parent, tokens = mask.nonzero(as_tuple=True)
        frontier = trie.advance(level, frontier[parent], tokens)
        assert (frontier >= 0).all()
    return frontier.tolist()


@pytest.mark.parametrize("dense_levels", [0, 1, 2, 4])
def test_random_sids(dense_levels):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 8, size=(500, 3))  # small alphabet: many shared prefixes
    sids = add_collision_level(codes, codebook_size=16)
    trie = Trie.build(sids, codebook_size=16, dense_levels=dense_levels)
    assert _walk(trie, sids).tolist() == list(range(500))
    assert sorted(_leaves(trie)) == list(range(500))  # every path ends in exactly one item


def test_invalid_tokens_leave_the_trie():
    sids = np.array([[0, 1], [0, 2], [3, 1]])
    for dense_levels in (0, 1, 2):
        trie = Trie.build(sids, codebook_size=4, dense_levels=dense_levels)
        root = torch.zeros(4, dtype=torch.long)
        assert trie.allowed(0, root[:1]).tolist() == [[True, False, False, True]]
        first = trie.advance(0, root, torch.tensor([0, 3, 1, 2]))
        assert (first[2:] == -1).all()
        assert trie.allowed(1, first[:2]).tolist() == [
            [False, True, True, False],
            [False, True, False, False],
        ]
        assert trie.advance(1, first[:2], torch.tensor([2, 2])).tolist() == [1, -1]


def test_duplicate_sids_rejected():
    with pytest.raises(ValueError, match="not unique"):
        Trie.build(np.array([[1, 2], [1, 2]]), codebook_size=4)


def test_exhaustive_on_embedded_default(synthetic_store):
    store, _ = synthetic_store
    assert _walk(store.trie, store.item_sids).tolist() == list(range(len(store.item_ids)))
    assert sorted(_leaves(store.trie)) == list(range(len(store.item_ids)))
    assert len({tuple(s) for s in store.item_sids.tolist()}) == len(store.item_ids)
