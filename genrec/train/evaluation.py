"""The decoder in the shared harness: histories → prompts → constrained beam search → items,
and the unconstrained decode's hallucination rate (how often free decoding leaves the trie)."""

from __future__ import annotations

import numpy as np
import torch

from genrec.data.split import EvalSet
from genrec.engine.engine import DecodeEngine, EngineConfig, decoder_engine
from genrec.eval import evaluate_scorer, evaluate_topk
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore


def pad_histories(histories: list[np.ndarray], length: int) -> torch.Tensor:
    """→ (B, length) the last `length` items of each history, left-padded with -1."""
    out = np.full((len(histories), length), -1, dtype=np.int64)
    for row, h in enumerate(histories):
        tail = h[-length:]
        if len(tail):
            out[row, length - len(tail) :] = tail
    return torch.from_numpy(out)


@torch.no_grad()
def batch_prompts(
    decoder: SIDDecoder,
    store: TokenizerStore,
    users: np.ndarray,
    histories: list[np.ndarray],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Users' histories (and SCIDs, if the decoder reads them) → prompt embeddings and mask."""
    history = pad_histories(histories, max(1, max(map(len, histories), default=1)))
    scids = None
    if decoder.prompt.user_scid:
        scids = torch.from_numpy(store.user_scids[users]).to(device)
    return decoder.prompt_embeds(history.to(device), scids)


class EngineRecommender:
    """Adapts decoder + engine to `genrec.eval`'s TopKRecommender protocol: the top-k of one
    beam search, or with `slate`, one generated page (HiGR mode)."""

    def __init__(
        self, decoder: SIDDecoder, engine: DecodeEngine, store: TokenizerStore, slate: bool = False
    ):
        self.decoder, self.engine, self.store, self.slate = decoder, engine, store, slate

    def recommend(self, users: np.ndarray, histories: list[np.ndarray], k: int) -> np.ndarray:
        embeds, valid = batch_prompts(
            self.decoder, self.store, users, histories, self.engine.device
        )
        return self.engine.recommend_embeds(embeds, valid, k, slate=self.slate).items.numpy()


class ItemByItemRecommender(EngineRecommender):
    """A page built one item at a time, the autoregressive way slates are generated without a
    plan: item j is the best of a full beam search whose prompt holds the user's history
    followed by items 1..j-1 (the last `max_history` kept), with 1..j-1 excluded."""

    def __init__(
        self, decoder: SIDDecoder, engine: DecodeEngine, store: TokenizerStore, max_history: int
    ):
        super().__init__(decoder, engine, store)
        self.max_history = max_history

    def recommend(self, users: np.ndarray, histories: list[np.ndarray], k: int) -> np.ndarray:
        page = np.full((len(users), k), -1, dtype=np.int64)
        for j in range(k):
            grown = [
                np.concatenate([h, p[:j]])[-self.max_history :]
                for h, p in zip(histories, page, strict=True)
            ]
            embeds, valid = batch_prompts(
                self.decoder, self.store, users, grown, self.engine.device
            )
            page[:, j] = (
                self.engine.recommend_embeds(embeds, valid, 1, list(page[:, :j]))
                .items[:, 0]
                .numpy()
            )
        return page


class DenseScorer:
    """A dense head on its own, as a full-catalogue scorer for `genrec.eval`: user · item for
    every item, the user being the prompt's last hidden state (what the engine computes)."""

    def __init__(self, decoder: SIDDecoder, store: TokenizerStore, device: torch.device):
        if decoder.item_head is None:
            raise ValueError("this decoder has no dense head")
        self.decoder, self.store, self.device = decoder, store, device

    @torch.no_grad()
    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> torch.Tensor:
        embeds, valid = batch_prompts(self.decoder, self.store, users, histories, self.device)
        positions = (valid.long().cumsum(1) - 1).clamp_min(0)
        hidden = self.decoder.lm.model(
            inputs_embeds=embeds, attention_mask=valid.long(), position_ids=positions
        ).last_hidden_state[:, -1]
        return hidden.float() @ self.decoder.item_head.weight.float().T


def evaluate_decoder(
    decoder: SIDDecoder,
    store: TokenizerStore,
    data: EvalSet,
    device: torch.device,
    beam: int = 20,
    cold: np.ndarray | None = None,
    slate: bool = False,
    served: bool = False,
) -> dict[str, float]:
    """Recall / NDCG @5 / @10, invalid rate and coverage of beam-`beam` constrained decoding,
    or of generated pages with `slate` (and the cold-start and exposure metrics when `cold`
    marks the cold-start items). served=False: float32, eager (the reference); served=True:
    the engine configuration Triton serves (bf16 CUDA graphs on a GPU)."""
    config = EngineConfig.served(beam) if served else EngineConfig.reference(beam)
    engine = decoder_engine(decoder, store, device, config)
    recommender = EngineRecommender(decoder, engine, store, slate)
    return evaluate_topk(recommender, data, len(store.item_ids), batch_size=256, cold=cold)


@torch.no_grad()
def hallucination_rate(
    decoder: SIDDecoder,
    store: TokenizerStore,
    data: EvalSet,
    device: torch.device,
    beam: int = 20,
    k: int = 10,
    batch_size: int = 64,
) -> float:
    """Share of the top-k sequences of *unconstrained* beam search (Hugging Face `generate`, no
    trie) that name no item: the rate the trie constraint brings to zero."""
    known = {tuple(t) for t in decoder.item_tokens.tolist()}
    invalid = total = 0
    for s in range(0, len(data), batch_size):
        users, histories = data.users[s : s + batch_size], data.histories[s : s + batch_size]
        embeds, valid = batch_prompts(decoder, store, users, histories, device)
        out = decoder.lm.generate(
            inputs_embeds=embeds, attention_mask=valid.long(),
            num_beams=beam, num_return_sequences=k, do_sample=False,
            max_new_tokens=decoder.vocab.sid_depth, min_new_tokens=decoder.vocab.sid_depth,
            pad_token_id=decoder.vocab.pad, bos_token_id=decoder.vocab.bos, eos_token_id=None,
        )  # fmt: skip
        generated = out[:, -decoder.vocab.sid_depth :].tolist()
        invalid += sum(tuple(g) not in known for g in generated)
        total += len(generated)
    return invalid / max(1, total)


def test_metrics(
    decoder: SIDDecoder,
    store: TokenizerStore,
    test: EvalSet,
    device: torch.device,
    beam: int,
    hallucination_users: int = 500,
    cold: np.ndarray | None = None,
) -> dict[str, float]:
    """A trained decoder's test row: the float32 eager figures at `beam`; on a GPU also the
    figures of the path Triton serves (bf16, CUDA graphs, fusion) and, for the ablations, of
    SID scores alone and of the dense head alone over the whole catalogue (dense-head models,
    not a serving mode) and of beam 20 (the width of earlier reports); the
    unconstrained decode's hallucination rate on the first `hallucination_users` users;
    `cold` (the cold-start items) adds the cold-start and exposure metrics to the headline."""

    def headline(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
        return {f"{prefix}_{k}": metrics[k] for k in ("recall@10", "ndcg@10")}

    row = evaluate_decoder(decoder, store, test, device, beam, cold)
    gpu = device.type == "cuda"
    if gpu:
        row |= headline("served", evaluate_decoder(decoder, store, test, device, beam, served=True))
    if decoder.item_head is not None:
        weight = row["dense_weight"] = decoder.dense.weight
        if gpu:
            alone = evaluate_decoder(decoder.with_dense_weight(0.0), store, test, device, beam)
            decoder.with_dense_weight(weight)
            dense = evaluate_scorer(DenseScorer(decoder, store, device), test, batch_size=256)
            row |= headline("sid_only", alone) | headline("dense_only", dense)
    if gpu and beam != 20:
        row |= headline("beam20", evaluate_decoder(decoder, store, test, device, 20))
    row["beam"] = beam
    first = test.take(np.arange(min(hallucination_users, len(test))))
    row["hallucination_rate"] = hallucination_rate(decoder, store, first, device)
    return row
