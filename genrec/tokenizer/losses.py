"""Alignment terms added to the RQ-VAE objective.

Both use L2-normalised embeddings over a temperature, which keeps them from inflating the
latent scale the quantizer has to follow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def in_batch_softmax(
    anchor: torch.Tensor, positive: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Align3GR's U2I loss: row i of `positive` is anchor i's positive, the other rows its
    in-batch negatives. anchor, positive (B, d) → scalar."""
    logits = F.normalize(anchor, dim=-1) @ F.normalize(positive, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(anchor), device=anchor.device))


def contrastive(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """HiGR-style contrastive constraint on item latents: items users consume one after another
    are pulled together, others in the batch pushed apart (symmetric InfoNCE)."""
    return 0.5 * (in_batch_softmax(a, b, temperature) + in_batch_softmax(b, a, temperature))
