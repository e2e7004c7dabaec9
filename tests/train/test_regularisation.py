"""Residual dropout: active in training only, so the served decoder is the same network."""

from __future__ import annotations

import torch

from genrec.model.config import build_decoder
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab


def _decoder(store, residual_dropout: float) -> SIDDecoder:
    vocab = SIDVocab()
    lm = build_decoder("tiny", vocab, seed=0)
    return SIDDecoder(lm, vocab, PromptConfig(), store.item_sids, residual_dropout=residual_dropout)


def test_residual_dropout_trains_noisy_and_evaluates_exact(small_store):
    store, _ = small_store
    plain, dropped = _decoder(store, 0.0), _decoder(store, 0.5)
    history, page = torch.tensor([[-1, 3, 4], [5, 6, 7]]), torch.tensor([[8], [1]])
    with torch.no_grad():
        assert torch.equal(plain.eval()(history, page), dropped.eval()(history, page))
        torch.manual_seed(0)
        noisy = [dropped.train()(history, page) for _ in range(2)]
    assert not torch.equal(noisy[0], noisy[1])  # the hooks drop in training
    assert not torch.equal(noisy[0], plain.eval()(history, page))
    assert dropped.state_dict().keys() == plain.state_dict().keys()  # checkpoints unchanged
