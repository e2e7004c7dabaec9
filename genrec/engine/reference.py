"""The reference every public generative recommender uses: Hugging Face `generate` with beam
search and a per-step Python `prefix_allowed_tokens_fn` over the SID trie. The engine must
return what this returns, only faster."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import Qwen2ForCausalLM

from genrec.model.vocab import SIDVocab


class PrefixTrie:
    """Allowed next tokens for every SID prefix, as a dict (what the reference's callback reads)."""

    def __init__(self, sids: np.ndarray, vocab: SIDVocab):
        tokens = vocab.sid_tokens(torch.from_numpy(sids)).tolist()
        self.next: dict[tuple[int, ...], list[int]] = {}
        self.item: dict[tuple[int, ...], int] = {}
        for item, path in enumerate(tokens):
            for depth in range(len(path)):
                self.next.setdefault(tuple(path[:depth]), []).append(path[depth])
            self.item[tuple(path)] = item
        self.next = {k: sorted(set(v)) for k, v in self.next.items()}


@torch.no_grad()
def hf_beam_search(
    model: Qwen2ForCausalLM,
    trie: PrefixTrie,
    vocab: SIDVocab,
    prompts: Sequence[Sequence[int]],
    beam: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """→ items (B, k) (-1 where HF returned no valid SID) and summed log-prob scores (B, k)."""
    device = model.device
    P = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), P), vocab.pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, P - len(prompt) :] = torch.as_tensor(prompt)
        mask[row, P - len(prompt) :] = 1

    def allowed(_batch_id: int, input_ids: torch.Tensor) -> list[int]:
        return trie.next.get(tuple(input_ids[P:].tolist()), [vocab.eos])

    out = model.generate(
        input_ids=ids.to(device), attention_mask=mask.to(device), num_beams=beam,
        num_return_sequences=k, max_new_tokens=vocab.sid_depth, min_new_tokens=vocab.sid_depth,
        do_sample=False, length_penalty=0.0, early_stopping=False,
        prefix_allowed_tokens_fn=allowed, return_dict_in_generate=True, output_scores=True,
        pad_token_id=vocab.pad, eos_token_id=vocab.eos,
    )  # fmt: skip
    generated = out.sequences[:, P:].cpu().tolist()
    items = np.array([trie.item.get(tuple(g), -1) for g in generated]).reshape(len(prompts), k)
    scores = out.sequences_scores.float().cpu().numpy().reshape(len(prompts), k)
    return np.where(scores > -1e8, items, -1), scores
