"""The alignment objectives, as pure functions of log-probabilities.

`softmax_dpo_loss` is Softmax-DPO (Chen et al. 2024, as Align3GR uses it): one chosen item
against many rejected ones in one softmax. `orpo_loss` compares two whole pages (HiGR's
listwise alignment of slates).

`policy_loss` is one group policy-gradient objective whose switches give three methods:

| method  | ratio of                     | bound           | advantages | extras            |
|---------|------------------------------|-----------------|------------|-------------------|
| GRPO-SR | each token                   | PPO clip        | coupled    | NLL on the target |
| GBPO    | the whole sequence           | OneRec-V2 bound | coupled    | -                 |
| SAGE    | the sequence, geometric mean | OneRec-V2 bound | decoupled  | boost, penalty    |

GBPO (OneRec-V2) replaces clipping by a bounded denominator: the update weight is
pi / max(pi_old, sg(pi)) for a positive advantage and pi / max(pi_old, 1 - sg(pi)) for a
negative one, so no sample loses its gradient and the gradient stays bounded like a BCE's.
SAGE keeps that bound but takes the ratio of per-token geometric means (no token-level
variance, and negatives of a 4-token SID are not vanishingly improbable), normalises each
objective's rewards within the group before combining them (`advantages(decoupled=True)`),
multiplies the update of cold-start candidates with a positive advantage by 1 + boost, and
the push-down of negatives in low-diversity groups by 1 + penalty * (1 - normalised entropy).
The boost and penalty forms are our reading of the paper's description (its exact bound
functions were not available to us); both are switches, so their effect is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def softmax_dpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    rejected_valid: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """chosen (N,), rejected (N, R) sequence log-probs under the policy, the same under the
    reference, rejected_valid (N, R) → -log σ(-log Σ_l exp(β(Δ_l - Δ_w))), Δ = log π/π_ref,
    averaged over the prompts that have at least one rejected item."""
    rows = rejected_valid.any(1)
    margin = beta * ((rejected - ref_rejected) - (chosen - ref_chosen)[:, None])
    margin = margin.masked_fill(~rejected_valid, float("-inf"))[rows]
    return -F.logsigmoid(-torch.logsumexp(margin, 1)).mean()


def orpo_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """ORPO's odds-ratio term (Hong et al. 2024), the listwise preference objective of slate
    training: chosen, rejected (B,) mean token log-probabilities of a whole page →
    -log sigmoid(log odds(chosen) - log odds(rejected)) per pair, where odds(p) = p / (1 - p).
    No reference model: it is added to the NLL of the chosen page."""

    def log_odds(logp: torch.Tensor) -> torch.Tensor:
        logp = logp.clamp(max=-1e-6)  # p < 1
        return logp - torch.log(-torch.expm1(logp))

    return -F.logsigmoid(log_odds(chosen) - log_odds(rejected))


def group_normalise(r: torch.Tensor, valid: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(r - group mean) / group std over each row's valid candidates; 0 elsewhere."""
    n = valid.sum(1, keepdim=True).clamp_min(1)
    mean = (r * valid).sum(1, keepdim=True) / n
    var = (((r - mean) * valid) ** 2).sum(1, keepdim=True) / n
    return ((r - mean) / (var.sqrt() + eps)).masked_fill(~valid, 0)


def advantages(
    rewards: dict[str, torch.Tensor],
    weights: dict[str, float],
    valid: torch.Tensor,
    decoupled: bool,
) -> torch.Tensor:
    """Coupled (GRPO, GBPO): normalise the weighted sum of rewards within each group.
    Decoupled (SAGE): normalise each objective within the group, sum with the weights, then
    normalise over the batch, so a rare objective is not drowned by a dense one."""
    used = [name for name, w in weights.items() if w]
    if not decoupled:
        return group_normalise(sum(weights[n] * rewards[n] for n in used), valid)
    combined = sum(weights[n] * group_normalise(rewards[n], valid) for n in used)
    flat = combined[valid]
    std = flat.std() if flat.numel() > 1 else flat.new_tensor(1.0)
    return ((combined - flat.mean()) / (std + 1e-6)).masked_fill(~valid, 0)


@dataclass(frozen=True)
class PolicyObjective:
    ratio: str = "token"  # token | sequence | geometric
    bound: str = "clip"  # clip (PPO / GRPO) | gbpo (OneRec-V2's dynamic bound)
    clip_eps: float = 0.2
    decoupled: bool = False  # SAGE's per-objective group normalisation
    boost: float = 0.0  # SAGE: extra weight on cold-start candidates with a positive advantage
    entropy_penalty: float = 0.0  # SAGE: extra weight on negatives of low-diversity groups
    nll_weight: float = 0.0  # GRPO-SR: NLL of the ground-truth item as a regulariser


METHODS = {
    "grpo-sr": PolicyObjective(ratio="token", bound="clip", nll_weight=0.1),
    "gbpo": PolicyObjective(ratio="sequence", bound="gbpo"),
    "sage": PolicyObjective(
        ratio="geometric", bound="gbpo", decoupled=True, boost=1.0, entropy_penalty=1.0
    ),
}


def _log_pi(logp: torch.Tensor, ratio: str) -> torch.Tensor:
    """(N, G, depth) token log-probs → (N, G, D') log-probabilities the ratio is taken of."""
    if ratio == "token":
        return logp
    if ratio == "sequence":
        return logp.sum(-1, keepdim=True)
    if ratio == "geometric":
        return logp.mean(-1, keepdim=True)
    raise ValueError(f"unknown ratio {ratio!r}")


def group_entropy(first_codes: torch.Tensor, valid: torch.Tensor, n_codes: int) -> torch.Tensor:
    """(N, G) first SID codes of each group → (N,) entropy of their distribution, normalised
    to [0, 1] by the largest entropy a group of that size can have."""
    counts = torch.zeros(len(first_codes), n_codes, device=first_codes.device)
    counts.scatter_add_(1, first_codes.clamp_min(0), valid.float())
    p = counts / counts.sum(1, keepdim=True).clamp_min(1)
    h = -(p * p.clamp_min(1e-12).log()).sum(1)
    n = valid.sum(1).clamp(min=2, max=n_codes).float()
    return (h / n.log()).clamp(0, 1)


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    valid: torch.Tensor,
    cold: torch.Tensor,
    entropy: torch.Tensor,
    obj: PolicyObjective,
) -> torch.Tensor:
    """logp, old_logp (N, G, depth) token log-probs of the candidates under the policy and the
    rollout policy; adv (N, G); valid (N, G); cold (N, G) bool; entropy (N,) each group's
    normalised first-code entropy (`group_entropy`) → the loss to minimise (mean over the
    valid candidates)."""
    lp, lp_old = _log_pi(logp, obj.ratio), _log_pi(old_logp, obj.ratio).detach()
    a = adv[..., None]
    if obj.bound == "clip":
        r = (lp - lp_old).exp()
        surrogate = torch.minimum(r * a, r.clamp(1 - obj.clip_eps, 1 + obj.clip_eps) * a)
    elif obj.bound == "gbpo":
        pi, pi_old, held = lp.exp(), lp_old.exp(), lp.detach().exp()
        denom = torch.where(a >= 0, torch.maximum(pi_old, held), torch.maximum(pi_old, 1 - held))
        surrogate = pi / denom * a
    else:
        raise ValueError(f"unknown bound {obj.bound!r}")
    weight = (
        1
        + obj.boost * ((adv > 0) & cold)
        + obj.entropy_penalty * (adv < 0) * (1 - entropy[:, None])
    )
    per_candidate = (weight[..., None] * surrogate).mean(-1)
    return -(per_candidate * valid).sum() / valid.sum().clamp_min(1)
