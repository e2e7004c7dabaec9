"""Starting from a pretrained Llama: the Qwen2 conversion computes the same function, SID
tokens reuse or add vocabulary rows, and the engine decodes such a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.data import leave_one_out
from genrec.engine.engine import DecodeEngine, EngineConfig
from genrec.errors import GenrecError
from genrec.model.checkpoint import load_checkpoint, save_checkpoint
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.pretrained import llama_to_qwen2, pretrained_decoder, with_sid_rows
from genrec.model.vocab import SIDVocab
from genrec.train.distributed import World
from genrec.train.trainer import DecoderTrainConfig, train_decoder
from tests.train.conftest import NATIVE


def test_conversion_keeps_the_function(llama):
    qwen = llama_to_qwen2(llama)
    ids = torch.randint(0, NATIVE, (3, 17))
    with torch.no_grad():
        want, got = llama(ids).logits, qwen(ids).logits
    assert torch.allclose(got, want, atol=1e-5)
    assert qwen.config.tie_word_embeddings and qwen.lm_head.weight is qwen.model.embed_tokens.weight


def test_sid_rows_reuse_or_add(llama):
    reused, vocab = with_sid_rows(llama_to_qwen2(llama), "reuse")
    assert reused.config.vocab_size == vocab.size == NATIVE
    assert vocab.level_offset(0) == NATIVE - 4 * 256 and (vocab.pad, vocab.bos) == (0, 1)
    with pytest.raises(GenrecError, match="cannot give"):  # 7 blocks do not fit in 1,500 rows
        with_sid_rows(llama_to_qwen2(llama), "reuse", user_levels=3)

    before = llama.model.embed_tokens.weight.detach().clone()
    added, vocab = with_sid_rows(llama_to_qwen2(llama), "add")
    assert added.config.vocab_size == vocab.size == NATIVE + 4 * 256
    assert vocab.level_offset(0) == NATIVE
    weights = added.get_input_embeddings().weight
    assert torch.equal(weights[:NATIVE], before)  # native rows untouched
    assert torch.isfinite(weights[NATIVE:]).all()


@pytest.mark.parametrize("sid_rows", ["reuse", "add"])
def test_engine_decodes_a_converted_model(llama, synthetic_store, sid_rows):
    store = synthetic_store[0]
    lm, vocab = with_sid_rows(llama_to_qwen2(llama), sid_rows)
    engine = DecodeEngine(lm, store, vocab, "cpu", EngineConfig(beam=20))
    rng = np.random.default_rng(0)
    prompts = [
        vocab.history_prompt(torch.from_numpy(store.item_sids[rng.integers(0, 50, 5)]))
        for _ in range(4)
    ]
    rec = engine.recommend(prompts, k=10)
    assert (rec.items >= 0).all()
    assert np.array_equal(store.item_sids[rec.items.numpy()], rec.sids.numpy())


def test_a_converted_model_trains_and_round_trips(llama, small_synthetic, small_store, tmp_path):
    """Added rows, tied embeddings and GQA survive a training step and save → load."""
    store, store_path = small_store
    lm, vocab = with_sid_rows(llama_to_qwen2(llama), "add")
    decoder = SIDDecoder(lm, vocab, PromptConfig(merge_to=2), store.item_sids)
    cfg = DecoderTrainConfig(epochs=1, batch_size=64, lr=1e-3, warmup_steps=5, eval_users=50)
    split = leave_one_out(small_synthetic)
    result = train_decoder(decoder, split, store, cfg, World(torch.device("cpu")), progress=False)
    assert result.history[0]["invalid_rate"] == 0.0
    out = save_checkpoint(result.decoder, store, store_path, tmp_path / "ckpt", {})
    loaded, meta = load_checkpoint(out, store)
    assert meta["vocab"]["n_special"] == NATIVE and loaded.lm.config.tie_word_embeddings
    history, page = torch.tensor([[-1, 3, 4], [5, 6, 7]]), torch.tensor([[8, 9], [1, -1]])
    assert torch.allclose(loaded(history, page), result.decoder.eval()(history, page))


def test_unknown_sid_rows_fail_before_loading():
    with pytest.raises(GenrecError, match="--sid-rows"):
        pretrained_decoder("smollm2-135m", "share")


def test_sid_vocab_default_layout_unchanged():
    assert SIDVocab().level_offset(0) == 4 and SIDVocab().size == 4 + 4 * 256
