"""Candidates from the decoder itself: constrained beam search with the decode engine, so every
candidate a preference pair or a policy group contains is a real item (never an invalid ID)."""

from __future__ import annotations

import torch

from genrec.align.prompts import Prompts
from genrec.engine.engine import EngineConfig, decoder_engine
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore


@torch.no_grad()
def beam_candidates(
    decoder: SIDDecoder,
    store: TokenizerStore,
    prompts: Prompts,
    beam: int,
    device: torch.device,
    batch_size: int = 256,
    slate: bool = False,
) -> torch.Tensor:
    """→ (N, beam) item ids of the decoder's current top-`beam` items per prompt, best first;
    -1 where the trie has fewer; with `slate`, the `beam`-item page it generates instead. The
    engine is built for this call from the current weights (eager, float32: the weights change
    between calls, so nothing is captured)."""
    was_training = decoder.training
    decoder.eval()
    engine = decoder_engine(decoder, store, device, EngineConfig.reference(beam))
    user_scids = torch.from_numpy(store.user_scids) if decoder.prompt.user_scid else None
    out = []
    for s in range(0, len(prompts), batch_size):
        chunk = prompts.take(torch.arange(s, min(s + batch_size, len(prompts))))
        scids = None if user_scids is None else user_scids[chunk.users].to(device)
        embeds, valid = decoder.prompt_embeds(chunk.history.to(device), scids)
        out.append(engine.recommend_embeds(embeds, valid, k=beam, slate=slate).items)
    decoder.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, beam, dtype=torch.long)
