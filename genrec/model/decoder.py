"""The generative recommender as one module: a Qwen2 causal LM over SID tokens plus its prompt.

Prompt = [BOS] + the user's SCID tokens (Align3GR, optional) + the history items' SID tokens,
oldest first, each item merged to fewer embeddings by the token merger (GenRec, optional).
Prompts are built as embeddings, left-padded, so the same tensors feed training (Hugging Face
forward) and serving (the engine's `recommend_embeds`).

The training objective is page-wise NTP (GenRec): the target is the page of the next k items,
each a valid continuation of the prompt on its own (k = 1 is next-item NTP). The same forward
pass scores a group of candidate items for preference alignment (`token_logprobs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import Qwen2ForCausalLM

from genrec.model.merger import TokenMerger
from genrec.model.vocab import SIDVocab


@dataclass(frozen=True)
class PromptConfig:
    user_scid: bool = False  # prefix the prompt with the user's SCID tokens
    merge_to: int = 0  # embeddings per history item after the token merger; 0 = no merger

    def tokens_per_item(self, vocab: SIDVocab) -> int:
        return self.merge_to or vocab.sid_depth

    def length(self, vocab: SIDVocab, n_history: int) -> int:
        """Prompt positions for a history of n items."""
        return 1 + vocab.user_levels + n_history * self.tokens_per_item(vocab)


class SIDDecoder(nn.Module):
    def __init__(
        self,
        lm: Qwen2ForCausalLM,
        vocab: SIDVocab,
        prompt: PromptConfig,
        item_sids: np.ndarray,
        dropout: float = 0.0,
    ):
        super().__init__()
        if prompt.user_scid != (vocab.user_levels > 0):
            raise ValueError("a user-SCID prompt needs a vocabulary with user levels, and back")
        self.lm, self.vocab, self.prompt = lm, vocab, prompt
        hidden = lm.config.hidden_size
        self.merger = (
            TokenMerger(vocab.sid_depth, hidden, prompt.merge_to) if prompt.merge_to else None
        )
        tokens = vocab.sid_tokens(torch.from_numpy(np.asarray(item_sids, dtype=np.int64)))
        self.register_buffer("item_tokens", tokens, persistent=False)  # (n_items, depth)
        # Training-time dropout on the input embeddings (Qwen2 itself only drops attention).
        self.dropout = nn.Dropout(dropout)

    def prompt_embeds(
        self, history: torch.Tensor, user_scids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """history (B, H) item indices, -1 for none; user_scids (B, user_levels) →
        embeddings (B, P, C) with padding first, and valid (B, P) bool."""
        embed = self.lm.get_input_embeddings()
        B, dev = len(history), history.device
        items = embed(self.item_tokens[history.clamp_min(0)])  # (B, H, depth, C)
        if self.merger is not None:
            items = self.merger(items)
        per_item = items.shape[2]
        head = torch.full((B, 1), self.vocab.bos, dtype=torch.long, device=dev)
        if self.prompt.user_scid:
            if user_scids is None:
                raise ValueError("this decoder reads user SCIDs: pass user_scids")
            head = torch.cat([head, self.vocab.user_tokens(user_scids)], 1)
        x = torch.cat([embed(head), items.flatten(1, 2)], 1)
        valid = torch.cat(
            [
                torch.ones_like(head, dtype=torch.bool),
                (history >= 0).repeat_interleave(per_item, 1),
            ],
            1,
        )
        # Histories are padded per item, between the head and the items: move all padding to
        # the front (a stable sort keeps the real positions in order).
        order = torch.sort(valid.to(torch.int8), dim=1, stable=True).indices
        return x.gather(1, order[..., None].expand_as(x)), valid.gather(1, order)

    def token_logprobs(
        self, history: torch.Tensor, items: torch.Tensor, user_scids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """history (B, H), items (B, k) item indices (-1: none) → (B, k, depth) log-probabilities
        of each item's SID tokens as the next item after the prompt; 0 where the item is -1.

        All k items ride in one sequence after the prompt, each attending to the prompt and to
        its own earlier tokens only: the prompt is encoded once for the whole page (training)
        or the whole group of candidates (preference alignment)."""
        prompt, valid = self.prompt_embeds(history, user_scids)
        P, k, depth = prompt.shape[1], items.shape[1], self.vocab.sid_depth
        T, dev = depth - 1, items.device  # each item feeds all but its last token
        targets = self.item_tokens[items.clamp_min(0)]  # (B, k, depth)
        fed = self.lm.get_input_embeddings()(targets[:, :, :T]).flatten(1, 2)  # (B, k*T, C)
        block = torch.cat(
            [torch.full((P,), -1, device=dev), torch.arange(k, device=dev).repeat_interleave(T)]
        )
        n = P + k * T
        index = torch.arange(n, device=dev)
        same = (block[None, :] == -1) | (block[:, None] == block[None, :])
        allowed = (index[:, None] >= index[None, :]) & same  # (n, n)
        keys = torch.cat([valid, (items >= 0).repeat_interleave(T, 1)], 1)  # (B, n)
        mask = (allowed[None] & keys[:, None, :]) | torch.eye(n, dtype=torch.bool, device=dev)
        start = valid.sum(1, keepdim=True)  # first generated position
        positions = torch.cat(
            [(valid.cumsum(1) - 1).clamp_min(0), start + torch.arange(T, device=dev).repeat(k)], 1
        )
        x = self.dropout(torch.cat([prompt, fed], 1))
        hidden = self.lm.model(
            inputs_embeds=x, attention_mask=mask[:, None], position_ids=positions
        ).last_hidden_state
        # Token i of item j is predicted at: the prompt's last position (i = 0), or item j's
        # token i - 1.
        source = P + torch.arange(k, device=dev)[:, None] * T + torch.arange(depth, device=dev) - 1
        source[:, 0] = P - 1
        logits = self.lm.lm_head(hidden[:, source.flatten()]).float()  # (B, k*depth, V)
        logp = logits.log_softmax(-1).gather(-1, targets.flatten(1)[..., None])[..., 0]
        return logp.view(-1, k, depth).masked_fill(items[..., None] < 0, 0.0)

    def forward(
        self, history: torch.Tensor, page: torch.Tensor, user_scids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Page-wise NTP loss (GenRec): history (B, H), page (B, k) item indices (-1: none) →
        the mean cross-entropy over the SID tokens of every page item; no target is penalised
        for the order of the others."""
        logp = self.token_logprobs(history, page, user_scids)
        n_tokens = (page >= 0).sum() * self.vocab.sid_depth
        return -logp.sum() / n_tokens.clamp_min(1)
