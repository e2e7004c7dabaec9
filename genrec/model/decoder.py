"""The generative recommender as one module: a Qwen2 causal LM over SID tokens plus its prompt.

Prompt = [BOS] + the user's SCID tokens (Align3GR, optional) + the history items' SID tokens,
oldest first, each item merged to fewer embeddings by the token merger (GenRec, optional).
Prompts are built as embeddings, left-padded, so the same tensors feed training (Hugging Face
forward) and serving (the engine's `recommend_embeds`).

The training objective is page-wise NTP (GenRec): the target is the page of the next k items,
each a valid continuation of the prompt on its own (k = 1 is next-item NTP). The same forward
pass scores a group of candidate items for preference alignment (`token_logprobs`).

With a dense head (LIGER / COBRA's hybrid), each item also has a learned embedding, and the
hidden state that predicts an item's first SID token doubles as the user's vector: a full-softmax
cross-entropy over the catalogue trains both beside the NTP loss, and at decode time the
engine adds `dense.weight` x (user · item) to the summed SID log-probabilities of the beam's
candidates, a product of the two experts that reranks the beam and costs one dot product per
candidate (with `dense.candidates`, the dense head's own top items join them).

Either loss can also learn from a teacher's next-item distribution (distillation from SASRec):
the dense head's over the catalogue, the SID tokens' walked down the trie (`trie_targets`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import Qwen2ForCausalLM

from genrec.model.merger import TokenMerger
from genrec.model.slate import SlateLayout
from genrec.model.vocab import SIDVocab


@dataclass(frozen=True)
class DenseConfig:
    enabled: bool = False  # learn item embeddings and score the beam's candidates with them
    loss_weight: float = 0.25  # of the catalogue cross-entropy (an item-level loss; NTP's is
    # per SID token, so 1 / depth puts the two on one scale)
    weight: float = 1.0  # decode: score = SID log-probability + weight x (user · item)
    candidates: int = 0  # decode: the dense head's own top items that join the beam's
    # The item embeddings also enter the prompt, added to each history item's SID token
    # embeddings (tied, as SASRec ties its input and output item embeddings): the prompt then
    # tells apart items whose SIDs share a prefix, and an item never trained keeps its SID's.
    in_prompt: bool = False


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
        dense: DenseConfig = DenseConfig(),
        residual_dropout: float = 0.0,
    ):
        """dropout: on the input embeddings (and Qwen2's attention weights, set in its config);
        residual_dropout: on each attention and MLP output before it joins the residual stream
        (GPT-2's resid_pdrop), which Qwen2 does not have. Training-time only: the engine reads
        the weights, so neither touches decoding."""
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
        self.residual_dropout = nn.Dropout(residual_dropout)  # train() / eval() switch it
        if residual_dropout > 0:
            for layer in lm.model.layers:
                for proj in (layer.self_attn.o_proj, layer.mlp.down_proj):
                    proj.register_forward_hook(self._drop_residual)
        self.dense = dense
        self.item_head = None
        if dense.enabled:
            self.item_head = nn.Embedding(len(tokens), hidden)  # (n_items, C)
            nn.init.normal_(self.item_head.weight, std=lm.config.initializer_range)

    def _drop_residual(self, _module: nn.Module, _args: tuple, out: torch.Tensor) -> torch.Tensor:
        return self.residual_dropout(out)

    def with_dense_weight(self, weight: float) -> SIDDecoder:
        """Sets, in place, the weight the engine decodes with (chosen on validation) → self."""
        self.dense = replace(self.dense, weight=weight)
        return self

    def decode_dense(self) -> torch.Tensor | None:
        """(n_items, C) weight x item embeddings, what the engine dots with the user's vector;
        None without a dense head or at weight 0."""
        if self.item_head is None or self.dense.weight == 0:
            return None
        return self.dense.weight * self.item_head.weight.detach()

    def prompt_embeds(
        self, history: torch.Tensor, user_scids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """history (B, H) item indices, -1 for none; user_scids (B, user_levels) →
        embeddings (B, P, C) with padding first, and valid (B, P) bool."""
        embed = self.lm.get_input_embeddings()
        B, dev = len(history), history.device
        items = embed(self.item_tokens[history.clamp_min(0)])  # (B, H, depth, C)
        if self.item_head is not None and self.dense.in_prompt:
            real = (history >= 0)[..., None, None]  # padding stays as it was
            items = items + self.item_head(history.clamp_min(0))[:, :, None] * real
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
        return self._page_logprobs(history, items, user_scids)[0]

    def _page_logprobs(
        self, history: torch.Tensor, items: torch.Tensor, user_scids: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """→ `token_logprobs`, the user's vector (B, C): the last prompt position's hidden
        state, which predicts every item's first SID token, and the log-probabilities of every
        token at each target position (B, k, depth, V)."""
        prompt, valid = self.prompt_embeds(history, user_scids)
        k, T, dev = items.shape[1], self.vocab.sid_depth - 1, items.device
        targets = self.item_tokens[items.clamp_min(0)]  # (B, k, depth)
        fed = targets[:, :, :T].flatten(1)  # each item feeds all but its last token
        block = torch.arange(k, device=dev).repeat_interleave(T)
        start = valid.sum(1, keepdim=True)  # first generated position
        positions = start + torch.arange(T, device=dev).repeat(k)
        present = (items >= 0).repeat_interleave(T, 1)
        hidden = self._blocks(prompt, valid, fed, block, present, positions)
        # Token i of item j is predicted at: the prompt's last position (i = 0), or item j's
        # token i - 1.
        P = prompt.shape[1]
        source = P + torch.arange(k, device=dev)[:, None] * T + torch.arange(T + 1, device=dev) - 1
        source[:, 0] = P - 1
        logp, full = self._target_logprobs(hidden, source, targets, items)
        return logp, hidden[:, P - 1], full

    def slate_logprobs(
        self, history: torch.Tensor, page: torch.Tensor, user_scids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The slate layout (HiGR's two stages, `genrec.model.slate`): history (B, H), page
        (B, k) item indices (-1: none) → (B, k, depth) log-probabilities, where [:, j, 0] is
        slot j's first SID code as the plan's j-th token and [:, j, 1:] the rest of its SID as
        slot j's item decoding, given the whole plan; 0 where the item is -1."""
        prompt, valid = self.prompt_embeds(history, user_scids)
        B, k = page.shape
        T, dev = self.vocab.sid_depth - 1, page.device
        targets = self.item_tokens[page.clamp_min(0)]  # (B, k, depth)
        sep = torch.full((B, 1), self.vocab.sep, dtype=torch.long, device=dev)
        fed = torch.cat([sep, targets[:, :, 0], targets[:, :, :T].flatten(1)], 1)
        layout = SlateLayout(k, T)
        block = torch.cat([torch.full((1 + k,), -1, device=dev), layout.slot_blocks(dev)])
        present = page >= 0
        keys = torch.cat([torch.ones_like(sep, dtype=torch.bool), present,
                          present.repeat_interleave(T, 1)], 1)  # fmt: skip
        positions = valid.sum(1, keepdim=True) + layout.positions(dev)
        hidden = self._blocks(prompt, valid, fed, block, keys, positions)
        source = prompt.shape[1] + layout.sources(dev)
        return self._target_logprobs(hidden, source, targets, page)[0]

    def _blocks(
        self,
        prompt: torch.Tensor,
        valid: torch.Tensor,
        fed: torch.Tensor,
        block: torch.Tensor,
        fed_valid: torch.Tensor,
        fed_positions: torch.Tensor,
    ) -> torch.Tensor:
        """One forward pass over the prompt (B, P, C) followed by fed tokens (B, n): fed token
        q attends to the valid prompt, to every earlier fed token of block -1 (shared context)
        and to the earlier ones of its own block → last hidden states (B, P + n, C)."""
        P, n, dev = prompt.shape[1], fed.shape[1], fed.device
        block = torch.cat([torch.full((P,), -1, device=dev), block])
        index = torch.arange(P + n, device=dev)
        same = (block[None, :] == -1) | (block[:, None] == block[None, :])
        allowed = (index[:, None] >= index[None, :]) & same  # (P + n, P + n)
        keys = torch.cat([valid, fed_valid], 1)  # (B, P + n)
        eye = torch.eye(P + n, dtype=torch.bool, device=dev)
        mask = (allowed[None] & keys[:, None, :]) | eye
        positions = torch.cat([(valid.cumsum(1) - 1).clamp_min(0), fed_positions], 1)
        x = self.dropout(torch.cat([prompt, self.lm.get_input_embeddings()(fed)], 1))
        return self.lm.model(
            inputs_embeds=x, attention_mask=mask[:, None], position_ids=positions
        ).last_hidden_state

    def _target_logprobs(
        self, hidden: torch.Tensor, source: torch.Tensor, targets: torch.Tensor, items: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of targets (B, k, depth), token (j, i) predicted at hidden position
        source[j, i], 0 where items (B, k) is -1; and of every token there (B, k, depth, V)."""
        logits = self.lm.lm_head(hidden[:, source.flatten()]).float()  # (B, k*depth, V)
        full = logits.log_softmax(-1)
        logp = full.gather(-1, targets.flatten(1)[..., None])[..., 0]
        logp = logp.view(*items.shape, -1).masked_fill(items[..., None] < 0, 0.0)
        return logp, full.view(*targets.shape, -1)

    def forward(
        self,
        history: torch.Tensor,
        page: torch.Tensor,
        user_scids: torch.Tensor | None = None,
        text: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        text_weight: float = 1.0,
        teacher: torch.Tensor | None = None,
        distill: float = 0.0,
    ) -> torch.Tensor:
        """Page-wise NTP loss (GenRec): history (B, H), page (B, k) item indices (-1: none) →
        the mean cross-entropy over the SID tokens of every page item; no target is penalised
        for the order of the others. With `text` = (ids, labels, mask) rows of the text ↔ SID
        alignment tasks (`genrec.train.text_tasks`), plus text_weight x their token
        cross-entropy: one forward pass, so data-parallel training sees one loss. With a dense
        head, plus its catalogue cross-entropy for every page item, x `dense.loss_weight`.

        Distillation: `teacher` (B, n_items) is a teacher's next-item distribution given the
        same history (SASRec's full softmax); each cross-entropy then becomes (1 - distill) x
        its own plus distill x the teacher's: over the catalogue for the dense head, and along
        the trie for the SID tokens (`trie_targets`)."""
        logp, user, full = self._page_logprobs(history, page, user_scids)
        present = page >= 0
        n_tokens = (present.sum() * self.vocab.sid_depth).clamp_min(1)
        loss = -logp.sum() / n_tokens
        if teacher is not None:
            targets = self.item_tokens[page.clamp_min(0)]  # (B, k, depth)
            soft = trie_targets(teacher, self.item_tokens, targets, full.shape[-1])
            kd = -(soft * full).sum(-1).masked_fill(~present[..., None], 0.0).sum() / n_tokens
            loss = (1 - distill) * loss + distill * kd
        if self.item_head is not None:
            scores = (user @ self.item_head.weight.T).float()  # (B, n_items)
            target = page.masked_fill(~present, -100)  # (B, k), -100 = ignored
            dense = F.cross_entropy(
                scores[:, None].expand(-1, page.shape[1], -1).flatten(0, 1), target.flatten()
            )
            if teacher is not None:
                kd = -(teacher * scores.log_softmax(-1)).sum(-1).mean()
                dense = (1 - distill) * dense + distill * kd
            loss = loss + self.dense.loss_weight * dense
        if text is not None:
            loss = loss + text_weight * self.text_loss(*text)
        return loss

    def text_loss(
        self, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Next-token cross-entropy of the text ↔ SID rows (`genrec.train.text_tasks`): ids,
        labels (-100: no target), mask (N, L) → the mean over labelled tokens, what Hugging
        Face's causal-LM loss gives. The LM head runs at the labelled positions only: with a
        pretrained vocabulary (SmolLM2's 49k rows) it costs about a quarter of the network's
        FLOPs at each position, and the prompt half of each row predicts nothing."""
        hidden = self.lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
        target = labels[:, 1:]  # position t predicts token t + 1
        kept = target != -100
        logits = self.lm.lm_head(hidden[:, :-1][kept]).float()  # (n labelled, V)
        return F.cross_entropy(logits, target[kept])


def trie_targets(
    teacher: torch.Tensor, item_tokens: torch.Tensor, targets: torch.Tensor, vocab_size: int
) -> torch.Tensor:
    """A distribution over items, walked down the trie as teacher forcing walks it: teacher
    (B, n_items) probabilities, item_tokens (n_items, depth), targets (B, k, depth) the page
    items' SID tokens → (B, k, depth, V), where [b, j, l] is the teacher's distribution of the
    l-th token among the items whose first l tokens are item j's (each row sums to 1).

    The decoder's SID-path probability of an item is the product of these conditionals, so
    matching them level by level matches the teacher's distribution over whole items."""
    B, k, depth = targets.shape
    out = teacher.new_zeros(B, k, depth, vocab_size)
    mass = teacher[:, None].expand(B, k, -1)  # (B, k, n_items): the items still on the path
    for level in range(depth):
        out[:, :, level].scatter_add_(-1, item_tokens[:, level].expand(B, k, -1), mass)
        mass = mass * (item_tokens[:, level] == targets[..., level, None])
    return out / out.sum(-1, keepdim=True).clamp_min(1e-30)
