"""Width-W beam search constrained to the SID trie, as one static sequence of tensor ops.

Per level: log-softmax over the full vocabulary (as Hugging Face does before its logits
processors), keep the level's token block, mask tokens whose trie child is -1 (and, at the last
level, excluded items), add the beam scores and take the top W over all (beam, token) pairs.
The trie child of the chosen pair is the beam's next node, so no separate lookup is needed.
Reordered beams leave their keys/values where they are; each beam's lineage says which
generated slots its attention may read. Nothing reads a value back to the host, so the whole
search can be one CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genrec.engine.runner import Qwen2Runner, additive_mask
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.trie import Trie

NEG_INF = float("-inf")


@dataclass
class BeamResult:
    scores: torch.Tensor  # (B, W) summed log-probs (+ dense), best first; -inf: no valid SID left
    items: torch.Tensor  # (B, W) item indices; -1 where the score is -inf
    sids: torch.Tensor  # (B, W, depth) per-level codes


def excluded_bitmap(exclude: torch.Tensor, n_items: int) -> torch.Tensor:
    """exclude (B, E) item ids padded with -1 → (B, n_items) bool."""
    bitmap = torch.zeros(len(exclude), n_items + 1, dtype=torch.bool, device=exclude.device)
    bitmap.scatter_(1, torch.where(exclude < 0, n_items, exclude), True)
    return bitmap[:, :n_items]


@dataclass
class DenseRerank:
    """A dense head's part of the search (`SIDDecoder.decode_dense`): the final candidates are
    scored SID log-probability + user · item, the user being the prompt's last hidden state.
    With `extra` > 0, the dense head's own top `extra` items (outside the beam, not excluded)
    join the candidates, their SID paths scored by one teacher-forced pass over the same cache:
    the beam proposes what the SIDs rank high, the dense head what they missed."""

    items: torch.Tensor  # (n_items, C) weighted item embeddings, float32
    codes: torch.Tensor  # (n_items, depth) every item's SID codes
    extra: int = 0


def beam_search(
    runner: Qwen2Runner,
    trie: Trie,
    vocab: SIDVocab,
    embeds: torch.Tensor,
    valid: torch.Tensor,
    beam: int,
    excluded: torch.Tensor | None = None,
    padded: bool = True,
    dense: DenseRerank | None = None,
) -> BeamResult:
    """embeds (B, P, C) left-padded prompt embeddings, valid (B, P) bool,
    excluded (B, n_items) bool or None → the W best valid SIDs per prompt.
    padded=False: no prompt has padding (lets the prefill use plain causal attention).
    dense: rerank the final candidates with a dense head (`DenseRerank`)."""
    B, depth = len(embeds), vocab.sid_depth
    P, T = embeds.shape[1], depth - 1  # T generated tokens are fed back (the last is not)
    extra = dense.extra if dense is not None else 0
    cache = runner.new_cache(B, P, (beam + extra) * T)  # the dense candidates' slots come last
    last_logits, pos, user = runner.prefill(embeds, valid, cache, padded)
    beams = torch.arange(beam, device=embeds.device)
    unused = torch.zeros(B, beam, extra * T, dtype=torch.bool, device=embeds.device)
    # lineage[b, w, j]: which beam column of step j's slot block holds the step-j token of beam
    # w's ancestor. Beams never move their keys/values when they are reordered; the attention
    # mask follows the lineage.
    lineage = torch.zeros(B, beam, T, dtype=torch.long, device=embeds.device)
    scores = torch.zeros(B, 1, device=embeds.device)
    nodes = torch.zeros(B, 1, dtype=torch.long, device=embeds.device)
    codes: list[torch.Tensor] = []
    for level in range(depth):
        if level == 0:
            logits = last_logits[:, None]  # (B, 1, V): one root beam
        else:
            step = level - 1
            lineage[:, :, step] = beams  # this step's token goes into the beam's own column
            tokens = codes[-1] + vocab.level_offset(step)
            positions = (pos + step)[:, None].expand(B, beam)
            if runner.beam_kernel:
                logits = runner.decode_beams(
                    tokens, positions, P, step, lineage, valid if padded else None, cache
                )
            else:
                own = lineage_mask(lineage, step, beam)
                mask = torch.cat([valid[:, None, :].expand(B, beam, P), own, unused], -1)
                logits = runner.decode(
                    tokens, positions, slice(P + step * beam, P + (step + 1) * beam),
                    additive_mask(mask[:, None], runner.dtype), cache,
                )  # (B, W, V)  # fmt: skip
        last = excluded if level == depth - 1 else None
        scores, nodes, parent, token = select(logits, scores, nodes, level, trie, vocab, beam, last)
        codes = [c.gather(1, parent) for c in codes] + [token]
        if level > 0:  # children inherit their parent's lineage
            lineage = lineage.gather(1, parent[..., None].expand(-1, -1, T))
    sids = torch.stack(codes, -1)
    items = nodes
    if dense is not None:
        if extra:
            in_beam = torch.where(scores > NEG_INF, nodes, dense.items.shape[0])
            more, more_scores = dense_candidates(
                runner, vocab, dense, user, last_logits, pos, valid, cache, beam, in_beam,
                excluded,
            )  # fmt: skip
            items, scores = torch.cat([nodes, more], 1), torch.cat([scores, more_scores], 1)
            sids = torch.cat([sids, dense.codes[more]], 1)
        scores, items, sids = rescore(scores, items, sids, user, dense.items, beam)
    found = scores > NEG_INF
    return BeamResult(scores, torch.where(found, items, -1), sids)


def dense_candidates(
    runner: Qwen2Runner,
    vocab: SIDVocab,
    dense: DenseRerank,
    user: torch.Tensor,
    first_logits: torch.Tensor,
    pos: torch.Tensor,
    valid: torch.Tensor,
    cache: list,
    beam: int,
    in_beam: torch.Tensor,
    excluded: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense head's top `dense.extra` items that are neither in the beam (in_beam (B, W),
    n_items where a beam found nothing) nor excluded → those items (B, K) and their summed SID
    log-probabilities (B, K), -inf where fewer than K such items exist. Their first T tokens
    go through the decoder in one pass into the cache's last K x T slots, each candidate
    attending to the prompt and to its own earlier tokens only."""
    B, K, depth, dev = len(user), dense.extra, vocab.sid_depth, user.device
    n_items, T, P = dense.items.shape[0], depth - 1, valid.shape[1]
    no_item = torch.full((B, 1), NEG_INF, device=dev)  # column n_items: "no item"
    affinity = torch.cat([user.float() @ dense.items.T, no_item], 1)  # (B, n_items + 1)
    if excluded is not None:
        affinity[:, :n_items].masked_fill_(excluded, NEG_INF)
    affinity.scatter_(1, in_beam, NEG_INF)
    best, items = affinity.topk(K, dim=1)  # (B, K)
    items = items.clamp_max(n_items - 1)
    tokens = vocab.sid_tokens(dense.codes[items])  # (B, K, depth) ids, made on the device
    within = torch.ones(T, T, dtype=torch.bool, device=dev).tril()
    own = torch.block_diag(*[within] * K)  # (K*T, K*T): each candidate's causal block
    mask = torch.cat([
        valid[:, None, :].expand(B, K * T, P),
        torch.zeros(B, K * T, beam * T, dtype=torch.bool, device=dev),
        own.expand(B, -1, -1),
    ], -1)  # fmt: skip
    start = P + beam * T
    logits = runner.decode(
        tokens[:, :, :T].flatten(1),
        pos[:, None] + torch.arange(T, device=dev).repeat(K),
        slice(start, start + K * T),
        additive_mask(mask[:, None], runner.dtype),
        cache,
    ).view(B, K, T, -1)  # token t of a candidate predicts its token t + 1
    first = first_logits.log_softmax(-1).gather(1, tokens[:, :, 0])  # (B, K)
    rest = logits.log_softmax(-1).gather(-1, tokens[:, :, 1:, None])[..., 0].sum(-1)
    return items, torch.where(best > NEG_INF, first + rest, NEG_INF)


def rescore(
    scores: torch.Tensor,
    items: torch.Tensor,
    sids: torch.Tensor,
    user: torch.Tensor,
    dense: torch.Tensor,
    keep: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Candidates (B, N) of `scores` for `items` (and their sids (B, N, depth)) → the best
    `keep` of them scored score + user (B, C) · dense[item], best first (-inf stays -inf)."""
    extra = torch.einsum("bc,bwc->bw", user.float(), dense[items].float())
    scores, order = (scores + extra).topk(keep, dim=1)
    sids = sids.gather(1, order[..., None].expand(-1, -1, sids.shape[2]))
    return scores, items.gather(1, order), sids


def lineage_mask(lineage: torch.Tensor, step: int, n_beams: int) -> torch.Tensor:
    """lineage (N, w, T): the beam column holding each query beam's step-j ancestor → (N, w,
    T * n_beams) bool, which generated slots (column j * n_beams + w', as laid out in the
    cache) each query may attend to: its ancestors' tokens up to this step, its own included."""
    N, w, T = lineage.shape
    columns = torch.arange(n_beams, device=lineage.device)
    steps = torch.arange(T, device=lineage.device)[:, None]
    return ((lineage[..., None] == columns) & (steps <= step)).reshape(N, w, T * n_beams)


def select(
    logits: torch.Tensor,
    scores: torch.Tensor,
    nodes: torch.Tensor,
    level: int,
    trie: Trie,
    vocab: SIDVocab,
    beam: int,
    excluded: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One level: logits (B, w, V), beam scores (B, w), trie nodes (B, w) → the best `beam`
    (scores, child nodes, parent beam, token), each (B, beam)."""
    B, K = len(logits), vocab.codebook_size
    offset = vocab.level_offset(level)
    logprobs = logits.log_softmax(-1)[..., offset : offset + K]  # (B, w, K)
    w = logprobs.shape[1]
    children = trie.children(level, nodes.reshape(-1)).reshape(B, w, K)
    allowed = children >= 0
    if excluded is not None:
        allowed &= ~excluded.gather(1, children.clamp_min(0).reshape(B, w * K)).view(B, w, K)
    candidates = torch.where(allowed, logprobs + scores[..., None], NEG_INF).view(B, w * K)
    scores, index = candidates.topk(beam, dim=1)  # (B, W), sorted best first
    parent, token = index // K, index % K
    nodes = children.reshape(B, w * K).gather(1, index).clamp_min(0)
    return scores, nodes, parent, token
