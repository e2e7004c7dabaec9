"""The decoder in the shared harness: histories → prompts → constrained beam search → items."""

from __future__ import annotations

import numpy as np
import torch
from transformers import Qwen2ForCausalLM

from genrec.data.split import EvalSet
from genrec.engine.engine import DecodeEngine
from genrec.eval import evaluate_topk
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore


class EngineRecommender:
    """Adapts the decode engine to `genrec.eval`'s TopKRecommender protocol."""

    def __init__(self, engine: DecodeEngine, sids: np.ndarray, vocab: SIDVocab):
        self.engine, self.sids, self.vocab = engine, torch.from_numpy(sids), vocab

    def recommend(self, users: np.ndarray, histories: list[np.ndarray], k: int) -> np.ndarray:
        prompts = [self.vocab.history_prompt(self.sids[h]) for h in histories]
        return self.engine.recommend(prompts, k).items.numpy()


def evaluate_decoder(
    model: Qwen2ForCausalLM,
    store: TokenizerStore,
    vocab: SIDVocab,
    data: EvalSet,
    device: torch.device,
    beam: int = 20,
) -> dict[str, float]:
    """Recall / NDCG @5 / @10, invalid rate and coverage of beam-20 constrained decoding."""
    engine = DecodeEngine(
        model, store, vocab, device, dtype=torch.float32, beam=beam, cuda_graphs=False, fuse=False
    )
    recommender = EngineRecommender(engine, store.item_sids, vocab)
    return evaluate_topk(recommender, data, len(store.item_ids), batch_size=256)
