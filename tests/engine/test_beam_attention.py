"""The Triton beam attention kernel against the masked-attention path it replaces, run on the
CPU through Triton's interpreter (on a GPU, `genrec bench-decode`'s exactness check runs it
compiled against Hugging Face `generate`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.bench.decode import random_prompts, random_store
from genrec.engine.engine import DecodeEngine, EngineConfig
from genrec.model.config import build_decoder
from genrec.model.vocab import SIDVocab

VOCAB = SIDVocab()


@pytest.fixture(scope="module")
def interpreted():
    """The kernel module, under the TRITON_INTERPRET=1 that conftest sets."""
    import genrec.engine.beam_attention as module

    return module


@pytest.fixture(scope="module")
def store():
    return random_store(3000, VOCAB, seed=0)


def _mixed(store, n: int) -> list[list[int]]:
    """Histories of 1 to 20 items: left padding inside the batch."""
    rng = np.random.default_rng(1)
    return [
        VOCAB.history_prompt(torch.from_numpy(store.item_sids[rng.integers(0, 3000, size)]))
        for size in rng.integers(1, 21, n)
    ]


@pytest.mark.parametrize("padded", [False, True])
def test_kernel_matches_masked_attention(interpreted, store, padded):
    """tiny has 4 query heads over 2 key/value heads: the grouped heads share a program."""
    model = build_decoder("tiny", VOCAB, seed=0)
    prompts = _mixed(store, 12) if padded else random_prompts(store, VOCAB, 12, 20, seed=0)
    exclude = [list(range(row * 7, row * 7 + 30)) for row in range(12)]

    def run(kernel: bool):
        engine = DecodeEngine(model, store, VOCAB, "cpu", EngineConfig(beam=20, beam_kernel=kernel))
        assert engine.runner.beam_kernel is kernel
        return engine.recommend(prompts, k=10, exclude=exclude)

    ours, masked = run(True), run(False)
    assert torch.equal(ours.items, masked.items)
    assert torch.allclose(ours.scores, masked.scores, atol=1e-5)
    assert (ours.items >= 0).all()


def test_kernel_writes_the_step_into_the_cache(interpreted):
    """The step's keys and values land in their slots, as the masked path's copies put them."""
    torch.manual_seed(0)
    B, W, Hq, Hkv, hd, P, T = 2, 5, 4, 2, 16, 7, 3
    q = torch.randn(B, W, Hq, hd)
    k, v = torch.randn(B, W, Hkv, hd), torch.randn(B, W, Hkv, hd)
    k_cache, v_cache = (torch.randn(B, Hkv, P + T * W, hd) for _ in range(2))
    lineage = torch.randint(0, W, (B, W, T))
    lineage[:, :, 1] = torch.arange(W)
    out = interpreted.beam_attention(q, k, v, k_cache, v_cache, P, 1, lineage, None)
    slots = slice(P + W, P + 2 * W)
    assert torch.equal(k_cache[:, :, slots], k.transpose(1, 2))
    assert torch.equal(v_cache[:, :, slots], v.transpose(1, 2))
    # reference, row by row: the prompt, the step-0 ancestor's slot, the beam's own new key
    group = Hq // Hkv
    for b in range(B):
        for w in range(W):
            for h in range(Hq):
                kv = h // group
                slot = P + lineage[b, w, 0]
                keys = torch.cat(
                    [k_cache[b, kv, :P], k_cache[b, kv, slot, None], k[b, w, kv, None]]
                )
                values = torch.cat(
                    [v_cache[b, kv, :P], v_cache[b, kv, slot, None], v[b, w, kv, None]]
                )
                weights = (keys @ q[b, w, h] * hd**-0.5).softmax(0)
                assert torch.allclose(out[b, w, h], weights @ values, atol=1e-5)
