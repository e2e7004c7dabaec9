"""Progressive Softmax-DPO (Align3GR): one chosen item against up to 20 rejected ones per prompt,
in stages from easy to hard, each stage's reference being the policy the previous one ended with.

- SP-DPO (self-play): the rejected items are the policy's own beam-search outputs, bucketed by
  how many leading SID codes they share with the chosen item: easy = none, medium = one,
  hard = two or more (the paper's prefix-ngram overlap). The model's most confident wrong
  answers of each bucket come first.
- RF-DPO (real feedback, where the data has ratings): the chosen item is liked (4–5); the
  rejected ones are the user's disliked items (1) in the easy stage, neutral ones (2–3) in the
  hard stage.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genrec.align.losses import softmax_dpo_loss
from genrec.align.policy import Policy
from genrec.align.prompts import Feedback, Prompts
from genrec.align.rollouts import beam_candidates

SP_STAGES = {"sp-easy": (0, 0), "sp-medium": (1, 1), "sp-hard": (2, 99)}  # shared leading codes


@dataclass(frozen=True)
class DPOConfig:
    beta: float = 0.1
    rejected: int = 20  # rejected items per prompt (Align3GR uses 20)
    rollout_beam: int = 64  # self-play candidates per prompt, before bucketing
    epochs: int = 1  # passes over each stage's pairs
    batch_size: int = 128  # prompts per step


def bucket_rejected(
    candidates: torch.Tensor,
    target: torch.Tensor,
    item_sids: torch.Tensor,
    shared: tuple[int, int],
    width: int,
) -> torch.Tensor:
    """candidates (N, W) best first → (N, width): those (not the target) whose shared SID
    prefix length with the target lies in `shared` (inclusive), in beam order; -1 padded."""
    same = item_sids[candidates.clamp_min(0)] == item_sids[target][:, None]  # (N, W, depth)
    prefix = same.long().cumprod(-1).sum(-1)
    lo, hi = shared
    keep = (candidates >= 0) & (candidates != target[:, None]) & (prefix >= lo) & (prefix <= hi)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    return candidates.gather(1, order).masked_fill(~keep.gather(1, order), -1)


def stages(feedback: Feedback | None) -> list[str]:
    return [*SP_STAGES, *(("rf-easy", "rf-hard") if feedback is not None else ())]


def _stage_pairs(
    name: str, policy: Policy, prompts: Prompts, feedback: Feedback | None, cfg: DPOConfig
) -> tuple[Prompts, torch.Tensor]:
    """→ the stage's prompts (chosen = target) and their rejected items, rows without any
    rejected item dropped."""
    if name in SP_STAGES:
        rows = prompts
        cands = beam_candidates(policy.decoder, policy.store, rows, cfg.rollout_beam, policy.device)
        item_sids = torch.from_numpy(policy.store.item_sids)
        rejected = bucket_rejected(cands, rows.target, item_sids, SP_STAGES[name], cfg.rejected)
    else:
        rows = feedback.prompts
        rejected = feedback.disliked if name == "rf-easy" else feedback.neutral
    has = rejected.ge(0).any(1)
    return rows.take(has.nonzero()[:, 0]), rejected[has]


def progressive_dpo(
    policy: Policy,
    prompts: Prompts,
    feedback: Feedback | None,
    cfg: DPOConfig,
    after_stage: Callable[[str, float, int], bool],
    advance: Callable[[], None] = lambda: None,
) -> None:
    """Run the stages until done or `after_stage(name, mean loss, pairs)`, which validates
    each stage's result, returns False (time budget); `advance` ticks once per batch."""
    for name in stages(feedback):
        rows, rejected = _stage_pairs(name, policy, prompts, feedback, cfg)
        reference = copy.deepcopy(policy.decoder).requires_grad_(False)
        losses = []
        for _ in range(cfg.epochs):
            for idx in policy.batches(len(rows), cfg.batch_size):
                batch = rows.take(idx)
                items = torch.cat([batch.target[:, None], rejected[idx]], 1)
                with torch.no_grad():
                    ref = policy.logprobs(batch.users, batch.history, items, reference).sum(-1)
                lp = policy.logprobs(batch.users, batch.history, items).sum(-1)
                valid = (items[:, 1:] >= 0).to(policy.device)
                loss = softmax_dpo_loss(lp[:, 0], lp[:, 1:], ref[:, 0], ref[:, 1:], valid, cfg.beta)
                losses.append(policy.step(loss))
                advance()
        del reference
        mean = sum(losses) / len(losses) if losses else float("nan")  # nan: no pairs
        if not after_stage(name, mean, len(rows)):
            return
