"""Rewards for group policy optimisation, one tensor per objective (N prompts × G candidates).

- accuracy (GenRec's hybrid reward): 1 for the ground-truth item, plus a dense reward-model
  score that counts only when the candidate passes a relevance gate. The reward model is the
  SASRec trained by `genrec baselines` on the same training split (a scorer on history × item);
  its dense score is 1 - rank / top for candidates in its top `top` (0 below). The gate asks
  that the candidate share its first `gate_levels` SID codes with the ground truth, so the
  policy cannot farm reward-model score on items unrelated to what the user did next (the
  reward hacking the gate exists to stop).
- coldstart: 1 for a cold-start candidate that passes the same gate (exposure for the long
  tail, but only where relevant).
- diversity: how few other candidates of the group share the candidate's first SID code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genrec.baselines.sasrec import SASRec

OBJECTIVES = ("accuracy", "coldstart", "diversity")


@dataclass(frozen=True)
class RewardConfig:
    rm_weight: float = 0.5  # weight of the gated reward-model score beside the ground-truth hit
    rm_top: int = 100  # the reward model's dense score reaches 0 at this rank
    gate_levels: int = 1  # relevance gate: leading SID codes shared with the ground truth


class RewardModel:
    """SASRec as a dense scorer of (history, candidate) pairs."""

    def __init__(self, sasrec: SASRec, device: torch.device, top: int = 100):
        self.sasrec, self.device, self.top = sasrec.to(device).eval(), device, top

    @torch.no_grad()
    def __call__(self, history: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """history (N, H) left-padded with -1, candidates (N, G) → (N, G) scores in [0, 1]."""
        seqs = [h[h >= 0].numpy() for h in history.cpu()]
        scores = self.sasrec.logits(self.sasrec.encode_histories(seqs))
        cand = candidates.to(self.device)
        mine = scores.gather(1, cand.clamp_min(0))
        rank = (scores[:, None, :] > mine[..., None]).sum(-1)  # (N, G)
        return (1 - rank / self.top).clamp_min(0).masked_fill(cand < 0, 0).cpu()


def objective_rewards(
    candidates: torch.Tensor,
    target: torch.Tensor,
    rm_scores: torch.Tensor,
    item_sids: torch.Tensor,
    cold: torch.Tensor,
    cfg: RewardConfig,
) -> dict[str, torch.Tensor]:
    """candidates (N, G) item ids (-1: none), target (N,), rm_scores (N, G), item_sids
    (n_items, depth), cold (n_items,) bool → {objective: (N, G) float rewards}."""
    valid = candidates >= 0
    cand = candidates.clamp_min(0)
    sids = item_sids[cand]  # (N, G, depth)
    lead = cfg.gate_levels
    gate = (sids[..., :lead] == item_sids[target][:, None, :lead]).all(-1) & valid
    hit = (candidates == target[:, None]).float()
    first = sids[..., 0]
    same = ((first[:, :, None] == first[:, None, :]) & valid[:, None, :]).sum(-1) - 1
    others = (valid.sum(1, keepdim=True) - 1).clamp_min(1)
    return {
        "accuracy": hit + cfg.rm_weight * gate * rm_scores,
        "coldstart": (cold[cand] & gate).float(),
        "diversity": (1 - same / others).masked_fill(~valid, 0),
    }
