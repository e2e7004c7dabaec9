"""Group policy optimisation (GRPO-SR, GBPO, SAGE): per prompt, a group of candidates from the
policy's own constrained beam search, rewards per objective, group-relative advantages, then a
few gradient steps of the method's objective on that batch (the rollout policy stays fixed
within the batch, so importance ratios and bounds mean what they say)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from genrec.align.losses import PolicyObjective, advantages, group_entropy, policy_loss
from genrec.align.policy import Policy
from genrec.align.prompts import Prompts
from genrec.align.rewards import RewardConfig, RewardModel, objective_rewards
from genrec.align.rollouts import beam_candidates


@dataclass(frozen=True)
class PGConfig:
    group: int = 16  # candidates per prompt (beam width of the rollout)
    batch_size: int = 128  # prompts per rollout
    updates: int = 2  # gradient steps per rollout batch
    epochs: int = 1  # passes over the prompts
    eval_every: int = 50  # rollout batches between validations
    weights: dict[str, float] = field(
        default_factory=lambda: {"accuracy": 1.0, "coldstart": 0.5, "diversity": 0.5}
    )
    rewards: RewardConfig = field(default_factory=RewardConfig)


def group_policy_optimisation(
    policy: Policy,
    prompts: Prompts,
    reward_model: RewardModel,
    cold: torch.Tensor,
    objective: PolicyObjective,
    cfg: PGConfig,
    on_eval: Callable[[int, dict[str, float]], bool],
    advance: Callable[[], None] = lambda: None,
) -> None:
    """Train until the epochs are done or `on_eval(step, stats)` returns False (time budget)."""
    device = policy.device
    item_sids = torch.from_numpy(policy.store.item_sids).to(device)
    cold = cold.to(device)
    G, step = cfg.group, 0
    stats: dict[str, list[float]] = {"loss": [], "reward": [], "hit": [], "coldstart": []}
    for _ in range(cfg.epochs):
        for idx in policy.batches(len(prompts), cfg.batch_size):
            batch = prompts.take(idx)
            target = batch.target.to(device)
            cands = beam_candidates(policy.decoder, policy.store, batch, G, device).to(device)
            valid = cands >= 0
            rm = reward_model(batch.history, cands).to(device)
            rewards = objective_rewards(cands, target, rm, item_sids, cold, cfg.rewards)
            adv = advantages(rewards, cfg.weights, valid, objective.decoupled)
            entropy = group_entropy(
                item_sids[cands.clamp_min(0)][..., 0], valid, policy.store.codebook_size
            )
            is_cold = cold[cands.clamp_min(0)] & valid
            items = torch.cat([cands, target[:, None]], 1)  # the ground truth rides along
            with torch.no_grad():
                old = policy.logprobs(batch.users, batch.history, items)
            for _ in range(cfg.updates):
                lp = policy.logprobs(batch.users, batch.history, items)
                loss = policy_loss(lp[:, :G], old[:, :G], adv, valid, is_cold, entropy, objective)
                if objective.nll_weight:
                    loss = loss - objective.nll_weight * lp[:, G].mean()
                stats["loss"].append(policy.step(loss))
            n = valid.sum().clamp_min(1)
            stats["reward"].append(
                float(sum(cfg.weights[k] * rewards[k] for k in cfg.weights).sum() / n)
            )
            stats["hit"].append(float((cands == target[:, None]).any(1).float().mean()))
            stats["coldstart"].append(float(is_cold.sum() / n))
            step += 1
            advance()
            if step % cfg.eval_every == 0:
                summary, stats = _means(stats), {k: [] for k in stats}
                if not on_eval(step, summary):
                    return
    if stats["loss"]:
        on_eval(step, _means(stats))


def _means(stats: dict[str, list[float]]) -> dict[str, float]:
    """Training statistics since the last validation, averaged, named for the log."""
    return {f"train_{k}": sum(v) / len(v) for k, v in stats.items()}
