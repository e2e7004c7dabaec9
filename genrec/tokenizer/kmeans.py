"""Batched k-means in torch (k-means++ seeding, Lloyd steps), used for codebook initialisation
and by the RQ-KMeans baseline. Deterministic for a given generator."""

from __future__ import annotations

import torch


def _sq_dist(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (x.square().sum(1, keepdim=True) - 2 * x @ c.T + c.square().sum(1)[None]).clamp_min(0)


def kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each next centre is drawn with probability ∝ squared distance."""
    n = len(x)
    centres = [x[torch.randint(n, (1,), generator=gen, device="cpu").item()]]
    dist = _sq_dist(x, centres[0][None]).squeeze(1)
    for _ in range(1, k):
        probs = (dist / dist.sum()).cpu() if dist.sum() > 0 else torch.full((n,), 1.0 / n)
        idx = torch.multinomial(probs, 1, generator=gen).item()
        centres.append(x[idx])
        dist = torch.minimum(dist, _sq_dist(x, x[idx][None]).squeeze(1))
    return torch.stack(centres)


def assign(x: torch.Tensor, centres: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Index of the nearest centre for every row of x → (N,) long."""
    return torch.cat(
        [_sq_dist(x[i : i + chunk], centres).argmin(1) for i in range(0, len(x), chunk)]
    )


def kmeans(x: torch.Tensor, k: int, iters: int = 50, seed: int = 0) -> torch.Tensor:
    """→ (k, d) centres; fewer than k points are repeated with jitter so shapes hold."""
    gen = torch.Generator().manual_seed(seed)
    x = x.float()
    if len(x) < k:
        reps = x[torch.randint(len(x), (k - len(x),), generator=gen)]
        x = torch.cat([x, reps + 1e-4 * torch.randn(reps.shape, generator=gen).to(x.device)])
    centres = kmeans_pp(x, k, gen)
    for _ in range(iters):
        labels = assign(x, centres)
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).float()
        empty = counts == 0
        centres = torch.where(empty[:, None], centres, sums / counts.clamp_min(1)[:, None])
        if empty.any():  # re-seed empty clusters on the points farthest from their centre
            far = _sq_dist(x, centres).min(1).values.topk(int(empty.sum())).indices
            centres[empty] = x[far]
    return centres
