"""HiGR-style slate decoding (seed 004) over the layout of `genrec.model.slate`: a whole page
from one call, planned first, then filled in parallel.

1. Plan: k greedy steps over the first SID level, each code allowed only while it has capacity
   left: its items not excluded, at most b (the slot beam width, or a lower cap that spreads
   the page over more codes), minus the slots already planned on it.
2. Slots: each slot runs a width-b beam search over the remaining levels under its planned code
   — all k slots at once, as k groups of b beams over the request's shared prompt-and-plan
   cache (the beam search's lineage masks, one group per slot).
3. Fill: slots in page order take their best candidate not already on the page. A code's m ≤ b
   slots each hold its min(b, items) best items, so they never run dry; should exclusions
   empty a slot's beams anyway, it takes the best free candidate of the whole page. So a
   slate never repeats an item.
Static shapes throughout, nothing read back to the host: one CUDA graph, like `beam_search`.
"""

from __future__ import annotations

import torch

from genrec.engine.beam_search import NEG_INF, BeamResult, lineage_mask, select
from genrec.engine.runner import Qwen2Runner, additive_mask
from genrec.model.slate import SlateLayout
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.trie import Trie


def slate_search(
    runner: Qwen2Runner,
    trie: Trie,
    vocab: SIDVocab,
    first_codes: torch.Tensor,
    embeds: torch.Tensor,
    valid: torch.Tensor,
    slots: int,
    beam: int,
    excluded: torch.Tensor | None = None,
    padded: bool = True,
    code_cap: int | None = None,
) -> BeamResult:
    """embeds (B, P, C) left-padded prompts ending in [SEP], valid (B, P), first_codes
    (n_items,) each item's first SID code, excluded (B, n_items) bool or None → a page of
    `slots` items per prompt in page order (scores: plan + slot log-probabilities).
    code_cap: at most this many slots per first code (≤ beam; default beam)."""
    B, P, dev = len(embeds), embeds.shape[1], embeds.device
    K, depth, T = vocab.codebook_size, vocab.sid_depth, vocab.sid_depth - 1
    layout = SlateLayout(slots, T)
    # Plan columns, then per step one block of slots x beam columns (slot-major within a block).
    cache = runner.new_cache(B, P, slots + T * slots * beam)
    logits, pos, _ = runner.prefill(embeds, valid, cache, padded)  # predicts plan token 0

    # 1. The plan.
    free = torch.ones(B, len(first_codes), device=dev) if excluded is None else (~excluded).float()
    capacity = torch.zeros(B, K, device=dev).scatter_add_(1, first_codes.expand(B, -1), free)
    # At most `beam` slots per code: its slots then always have enough distinct candidates.
    capacity.clamp_(max=min(beam, code_cap or beam))
    plan_pos, columns = layout.plan_positions(dev), torch.arange(slots, device=dev)
    plan, plan_scores = [], []
    for i in range(slots + 1):  # the extra step writes the last plan token's keys and values
        if i > 0:
            seen = (columns < i).expand(B, slots)
            mask = torch.cat([valid, seen, seen.new_zeros(B, T * slots * beam)], 1)
            logits = runner.decode(
                plan[-1][:, None] + vocab.level_offset(0),
                (pos + plan_pos[i - 1])[:, None],
                slice(P + i - 1, P + i),
                additive_mask(mask[:, None, None], runner.dtype),
                cache,
            )[:, 0]
        if i == slots:
            break
        logp = logits.log_softmax(-1)[:, vocab.level_offset(0) : vocab.level_offset(0) + K]
        score, code = logp.masked_fill(capacity <= 0, NEG_INF).max(-1)
        capacity.scatter_add_(1, code[:, None], -torch.ones_like(score[:, None]))
        plan.append(code)
        plan_scores.append(score)
    plan_codes, plan_score = torch.stack(plan, 1), torch.stack(plan_scores, 1)  # (B, k)

    # 2. The slots: G = B * k groups of `beam` beams, each group under its planned code.
    G = B * slots
    root = torch.zeros(G, dtype=torch.long, device=dev)
    nodes = trie.advance(0, root, plan_codes.flatten()).clamp_min(0)  # 0: code out of capacity
    nodes, scores = nodes[:, None], torch.zeros(G, 1, device=dev)
    codes = [plan_codes.flatten()[:, None]]
    beams = torch.arange(beam, device=dev)
    lineage = torch.zeros(G, beam, T, dtype=torch.long, device=dev)
    slot_pos = layout.slot_positions(dev)  # (k, T)
    last = None if excluded is None else excluded.repeat_interleave(slots, 0)
    for step in range(T):
        width = 1 if step == 0 else beam  # one root beam per slot at the first step
        lineage[:, :width, step] = beams[:width]
        own = lineage_mask(lineage[:, :width], step, beam)  # (G, width, T * beam)
        own = (
            own.view(B, slots, width, T, 1, beam)
            & torch.eye(slots, dtype=torch.bool, device=dev)[None, :, None, None, :, None]
        )  # a slot reads only its own columns
        mask = torch.cat(
            [valid[:, None].expand(B, slots * width, P),
             torch.ones(B, slots * width, slots, dtype=torch.bool, device=dev),
             own.reshape(B, slots * width, T * slots * beam)], -1,
        )  # fmt: skip
        # Slot s's beam w writes column s * beam + w of this step's block (w = 0 at step 0).
        block = P + slots + step * slots * beam
        logits = runner.decode(
            codes[-1].view(B, slots * width) + vocab.level_offset(step),
            (pos[:, None, None] + slot_pos[:, step, None]).expand(B, slots, width).flatten(1),
            slice(block, block + slots * beam, beam // width),
            additive_mask(mask[:, None], runner.dtype),
            cache,
        ).view(G, width, -1)
        level = step + 1
        scores, nodes, parent, token = select(
            logits, scores, nodes, level, trie, vocab, beam, last if level == depth - 1 else None
        )
        codes = [c.gather(1, parent) for c in codes] + [token]
        lineage = lineage.gather(1, parent[..., None].expand(-1, -1, T))

    # 3. Fill the page.
    total = torch.where(
        scores > NEG_INF, scores + plan_score.flatten()[:, None], NEG_INF
    ).view(B, slots, beam)  # fmt: skip
    items = torch.where(total > NEG_INF, nodes.view(B, slots, beam), -1)
    sids = torch.stack(codes, -1).view(B, slots, beam, depth)
    return _fill(items, total, sids)


def _fill(items: torch.Tensor, scores: torch.Tensor, sids: torch.Tensor) -> BeamResult:
    """items, scores (B, k, b) each slot's candidates, best first (-1 / -inf: none); sids
    (B, k, b, depth) → one distinct item per slot, in slot order (-1 where none is left)."""
    B, k, b = items.shape
    flat_items, flat_scores = items.view(B, k * b), scores.view(B, k * b)
    # Every candidate's rank in the whole page's pool, best first.
    pool_rank = flat_scores.argsort(1, descending=True).argsort(1)
    own_rank = torch.arange(b, device=items.device).repeat(k)
    slot_of = torch.arange(k, device=items.device).repeat_interleave(b)
    never = k * b + b  # above every real priority
    chosen = torch.full((B, k), -1, dtype=torch.long, device=items.device)
    picks = []
    for j in range(k):
        # Slot j's own candidates first, in order; then the pool's best free candidate.
        priority = torch.where(slot_of == j, own_rank, b + pool_rank)
        taken = (flat_items < 0) | (flat_items[..., None] == chosen[:, None, :]).any(-1)
        best = priority.masked_fill(taken, never).min(1)
        chosen[:, j] = torch.where(
            best.values < never, flat_items.gather(1, best.indices[:, None])[:, 0], -1
        )
        picks.append(best.indices)
    pick = torch.stack(picks, 1)  # (B, k) flat (slot, beam) index of each slot's item
    out_sids = sids.view(B, k * b, -1).gather(1, pick[..., None].expand(-1, -1, sids.shape[-1]))
    out_scores = torch.where(chosen >= 0, flat_scores.gather(1, pick), NEG_INF)
    return BeamResult(out_scores, chosen, out_sids)
