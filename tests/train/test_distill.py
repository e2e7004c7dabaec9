"""Distillation from SASRec: the teacher's distribution walked down the trie, and a decoder
trained towards it."""

from __future__ import annotations

import pytest
import torch

from genrec.baselines.sasrec import SASRec, SASRecConfig
from genrec.data import leave_one_out
from genrec.model.config import build_decoder
from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder, trie_targets
from genrec.model.vocab import SIDVocab
from genrec.train.distributed import World
from genrec.train.evaluation import DenseScorer, pad_histories
from genrec.train.trainer import DecoderTrainConfig, teacher_probs, train_decoder

CPU = World(device=torch.device("cpu"))


def test_trie_targets_multiply_back_to_the_teacher(small_store):
    """Along any item's own path the conditionals multiply to the teacher's probability of
    that item: matching them level by level is matching the distribution over whole items."""
    store, _ = small_store
    vocab = SIDVocab()
    tokens = vocab.sid_tokens(torch.from_numpy(store.item_sids.astype("int64")))
    n = len(tokens)
    teacher = torch.randn(4, n, dtype=torch.float64).mul(3).softmax(-1)
    page = torch.randint(0, n, (4, 3))
    soft = trie_targets(teacher, tokens, tokens[page], vocab.size)  # (4, 3, depth, V)
    assert torch.allclose(soft.sum(-1), torch.ones(4, 3, tokens.shape[1], dtype=torch.float64))
    path = soft.gather(-1, tokens[page][..., None])[..., 0].prod(-1)  # (4, 3)
    assert torch.allclose(path, teacher.gather(1, page))
    # Only tokens of the items below the path's prefix get mass: level 1 of item j lists the
    # second tokens of the items that share its first.
    b, j = 0, 0
    first = tokens[page[b, j], 0]
    below = set(tokens[tokens[:, 0] == first, 1].tolist())
    assert set(soft[b, j, 1].nonzero()[:, 0].tolist()) == below


def test_a_distilled_decoder_moves_towards_its_teacher(small_synthetic, small_store):
    """Trained with distill 0.9 against a (random) SASRec, the decoder's dense head ends
    nearer the teacher's distribution than the same decoder trained without it."""
    store, _ = small_store
    split = leave_one_out(small_synthetic)
    torch.manual_seed(0)
    teacher = SASRec(SASRecConfig(n_items=split.n_items, max_len=split.max_history)).eval()
    with torch.no_grad():  # a peaked teacher, far from what the data alone would teach
        teacher.item_emb.weight.normal_(std=1.0)

    def trained(distill: float) -> SIDDecoder:
        vocab = SIDVocab()
        dense = DenseConfig(True, 1.0)
        lm = build_decoder("tiny", vocab, seed=0)
        decoder = SIDDecoder(lm, vocab, PromptConfig(), store.item_sids, dense=dense)
        cfg = DecoderTrainConfig(
            epochs=1, batch_size=128, lr=3e-3, warmup_steps=10, eval_users=50,
            dense_weights=(1.0,), distill=distill,
        )  # fmt: skip
        kept = teacher if distill else None
        return train_decoder(decoder, split, store, cfg, CPU, False, None, None, kept).decoder

    users, histories = split.valid.users[:200], split.valid.histories[:200]
    target = teacher_probs(teacher, pad_histories(histories, split.max_history), 1.0)

    def kl(decoder: SIDDecoder) -> float:
        scores = DenseScorer(decoder.eval(), store, torch.device("cpu")).score(users, histories)
        logq = scores.log_softmax(-1)
        return (target * (target.log() - logq)).sum(-1).mean().item()

    assert kl(trained(0.9)) < 0.9 * kl(trained(0.0))


def test_distillation_needs_a_teacher(small_synthetic, small_store):
    store, _ = small_store
    vocab = SIDVocab()
    decoder = SIDDecoder(build_decoder("tiny", vocab, seed=0), vocab, PromptConfig(),
                         store.item_sids)  # fmt: skip
    cfg = DecoderTrainConfig(epochs=1, distill=0.5)
    with pytest.raises(ValueError, match="teacher"):
        train_decoder(decoder, leave_one_out(small_synthetic), store, cfg, CPU, False)
