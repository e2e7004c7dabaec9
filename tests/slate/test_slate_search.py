"""Slate decoding (HiGR mode of the engine) on a tiny random decoder: every page holds distinct
real items, respects exclusions and the per-code cap, and scores each page exactly as the
training layout (`SIDDecoder.slate_logprobs`) does — so training and decoding read one layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.data import leave_one_out
from genrec.engine.engine import DecodeEngine, EngineConfig
from genrec.engine.slate_search import _fill
from genrec.model.config import build_decoder
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.train.evaluation import pad_histories


@pytest.fixture(scope="module")
def setup(small_synthetic, small_store):
    store, _ = small_store
    vocab = SIDVocab()
    decoder = SIDDecoder(
        build_decoder("tiny", vocab, seed=3), vocab, PromptConfig(merge_to=2), store.item_sids
    ).eval()
    engine = DecodeEngine(decoder.lm, store, vocab, "cpu", EngineConfig(beam=20, slate_beam=4))
    split = leave_one_out(small_synthetic)
    history = pad_histories(split.test.histories[:48], 20)
    return decoder, engine, store, history


@torch.no_grad()
def test_pages_are_distinct_real_items_scored_like_training(setup):
    decoder, engine, store, history = setup
    embeds, valid = decoder.prompt_embeds(history)
    page = engine.recommend_embeds(embeds, valid, 10, slate=True)
    items = page.items.numpy()
    assert ((items >= 0) & (items < len(store.item_ids))).all()
    assert all(len(set(row)) == 10 for row in items.tolist())
    assert (page.sids.numpy() == store.item_sids[items]).all()
    first = store.item_sids[items, 0]
    assert max(np.bincount(row).max() for row in first) <= engine.slate_beam  # the per-code cap
    torch.testing.assert_close(
        decoder.slate_logprobs(history, page.items).sum(-1), page.scores, atol=1e-4, rtol=1e-4
    )


@torch.no_grad()
def test_pages_skip_excluded_items(setup):
    decoder, engine, _, history = setup
    embeds, valid = decoder.prompt_embeds(history)
    first = engine.recommend_embeds(embeds, valid, 10, slate=True).items
    shown = [row[:6].tolist() for row in first]
    second = engine.recommend_embeds(embeds, valid, 10, exclude=shown, slate=True).items
    for before, after in zip(shown, second.tolist(), strict=True):
        assert not set(before) & set(after) and len(set(after)) == 10


def test_fill_never_repeats_and_falls_back_to_the_page_pool():
    # Slots 0 and 1 want the same item; slot 2 has no candidate of its own.
    inf = float("-inf")
    items = torch.tensor([[[5, 6], [5, 6], [-1, -1]]])
    scores = torch.tensor([[[-1.0, -2.0], [-1.5, -2.5], [inf, inf]]])
    sids = torch.arange(12).view(1, 3, 2, 2)
    out = _fill(items, scores, sids)
    assert out.items.tolist() == [[5, 6, -1]]  # nothing unused is left for slot 2
    assert out.sids[0, 1].tolist() == sids[0, 1, 1].tolist()  # slot 1's own second choice
    items[0, 0, 1] = 7  # now the page's pool has an unused item: slot 2 takes it
    out = _fill(items, scores, sids)
    assert out.items.tolist() == [[5, 6, 7]] and out.scores[0, 2] == -2.0
