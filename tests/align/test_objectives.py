"""The alignment objectives against their definitions, on hand-made tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genrec.align.dpo import bucket_rejected
from genrec.align.losses import (
    PolicyObjective,
    advantages,
    group_normalise,
    policy_loss,
    softmax_dpo_loss,
)
from genrec.align.prompts import rated_prompts
from genrec.align.rewards import RewardConfig, objective_rewards
from genrec.data.schema import Dataset, Item, User
from genrec.data.split import leave_one_out


def test_softmax_dpo_with_one_rejected_is_dpo():
    chosen, rejected = torch.tensor([-1.0, -2.0]), torch.tensor([[-1.5], [-0.5]])
    ref_c, ref_r = torch.tensor([-1.2, -2.1]), torch.tensor([[-1.4], [-0.9]])
    beta = 0.5
    dpo = -F.logsigmoid(beta * ((chosen - ref_c) - (rejected[:, 0] - ref_r[:, 0]))).mean()
    got = softmax_dpo_loss(chosen, rejected, ref_c, ref_r, torch.ones(2, 1, dtype=torch.bool), beta)
    torch.testing.assert_close(got, dpo)


def test_softmax_dpo_ignores_padding_and_raises_the_chosen():
    chosen = torch.zeros(2, requires_grad=True)
    rejected = torch.zeros(2, 3)
    valid = torch.tensor([[True, True, False], [False, False, False]])  # row 2: no pair
    loss = softmax_dpo_loss(chosen, rejected, torch.zeros(2), torch.zeros(2, 3), valid, 1.0)
    torch.testing.assert_close(loss, torch.log(torch.tensor(3.0)))  # -log σ(-log 2) = log 3
    loss.backward()
    assert chosen.grad[0] < 0 and chosen.grad[1] == 0  # descent raises the chosen item


def test_bucket_rejected_by_shared_prefix():
    sids = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 1, 1]])
    cands = torch.tensor([[4, 2, 1, 3, 0, -1]])  # best first; 0 is the target
    target = torch.tensor([0])
    easy = bucket_rejected(cands, target, sids, (0, 0), 3)
    medium = bucket_rejected(cands, target, sids, (1, 1), 3)
    hard = bucket_rejected(cands, target, sids, (2, 99), 3)
    assert easy.tolist() == [[4, 3, -1]]
    assert medium.tolist() == [[2, -1, -1]]
    assert hard.tolist() == [[1, -1, -1]]


def test_rated_prompts_follow_the_rating_levels():
    items = [Item(id=str(i)) for i in range(8)]
    user = User(
        id="u",
        items=np.array([0, 1, 2, 3, 4, 5, 6, 7]),
        ratings=np.array([5, 1, 3, 4, 2, 5, 4, 1], np.float32),  # last two: valid, test
    )
    data = Dataset("t", items, [user])
    feedback = rated_prompts(data, leave_one_out(data), max_rejected=4)
    assert feedback.prompts.target.tolist() == [5]  # the last liked training item
    assert feedback.prompts.history[0].tolist()[-5:] == [0, 1, 2, 3, 4]
    assert sorted(i for i in feedback.disliked[0].tolist() if i >= 0) == [1]
    assert sorted(i for i in feedback.neutral[0].tolist() if i >= 0) == [2, 4]
    unrated = Dataset("t", items, [User(id="u", items=user.items)])
    assert rated_prompts(unrated, leave_one_out(unrated)) is None


def test_rewards_gate_the_reward_model():
    sids = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    cands = torch.tensor([[0, 1, 2, -1]])
    rm = torch.tensor([[0.2, 0.9, 0.9, 0.0]])
    cold = torch.tensor([False, True, True, False])
    r = objective_rewards(cands, torch.tensor([0]), rm, sids, cold, RewardConfig(rm_weight=0.5))
    # the target: hit + gated score; item 1 shares the first code (gated in); item 2 does not
    torch.testing.assert_close(r["accuracy"], torch.tensor([[1.1, 0.45, 0.0, 0.0]]))
    assert r["coldstart"].tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert r["diversity"].tolist() == [[0.5, 0.5, 1.0, 0.0]]


def test_decoupled_advantages_keep_a_rare_objective_audible():
    valid = torch.ones(1, 4, dtype=torch.bool)
    rewards = {
        "accuracy": torch.tensor([[10.0, 0.0, 0.0, 0.0]]),  # dense and large
        "coldstart": torch.tensor([[0.0, 0.0, 0.1, 0.0]]),  # rare and small
    }
    weights = {"accuracy": 1.0, "coldstart": 1.0}
    coupled = advantages(rewards, weights, valid, decoupled=False)
    decoupled = advantages(rewards, weights, valid, decoupled=True)
    # coupled: the cold item is no better off than the other misses; decoupled: it is
    assert coupled[0, 2] - coupled[0, 1] < 0.05
    assert decoupled[0, 2] - decoupled[0, 1] > 1.0
    torch.testing.assert_close(group_normalise(coupled, valid).mean(), torch.tensor(0.0))


def _grad(obj: PolicyObjective, logp: float, old: float, adv: float, cold: bool = False):
    lp = torch.full((1, 1, 2), logp, requires_grad=True)
    old_lp = torch.full((1, 1, 2), old)
    valid = torch.ones(1, 1, dtype=torch.bool)
    loss = policy_loss(
        lp, old_lp, torch.tensor([[adv]]), valid, torch.tensor([[cold]]), torch.ones(1), obj
    )
    loss.backward()
    return lp.grad.sum().item()


def test_clip_stops_the_gradient_outside_the_trust_region():
    obj = PolicyObjective(ratio="token", bound="clip", clip_eps=0.2)
    assert _grad(obj, logp=-1.0, old=-1.0, adv=1.0) < 0  # descent raises the candidate
    assert _grad(obj, logp=-1.0 + 0.5, old=-1.0, adv=1.0) == 0  # ratio e^0.5 > 1.2


def test_gbpo_bound_keeps_gradients_of_improbable_negatives_small():
    obj = PolicyObjective(ratio="sequence", bound="gbpo")
    # a positive whose probability rose: the bound divides by the current probability, so
    # the update is the plain log-likelihood gradient, A * d log pi = 2 tokens x 1
    assert abs(_grad(obj, logp=-0.5, old=-1.0, adv=1.0) + 2.0) < 1e-5
    # a negative with pi = e^-10: the denominator is ~1, the gradient ~pi, nearly nothing
    assert 0 < _grad(obj, logp=-5.0, old=-5.0, adv=-1.0) < 1e-3


def test_sage_boosts_cold_start_positives():
    plain = PolicyObjective(ratio="geometric", bound="gbpo")
    boosted = PolicyObjective(ratio="geometric", bound="gbpo", boost=1.0)
    g_plain = _grad(boosted, logp=-1.0, old=-1.0, adv=1.0, cold=False)
    g_cold = _grad(boosted, logp=-1.0, old=-1.0, adv=1.0, cold=True)
    assert abs(g_cold - 2 * g_plain) < 1e-6
    assert _grad(plain, logp=-1.0, old=-1.0, adv=1.0, cold=True) == g_plain
