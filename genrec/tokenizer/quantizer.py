"""Residual vector quantization (Lee et al. 2022): L codebooks of K vectors; level l quantizes the
residual left by levels < l. Codebooks start from residual k-means and unused codes are re-seeded
on live residuals, so no codebook collapses onto a few entries."""

from __future__ import annotations

import torch
from torch import nn

from genrec.tokenizer.kmeans import assign, kmeans


class ResidualQuantizer(nn.Module):
    def __init__(
        self, levels: int = 3, codebook_size: int = 256, dim: int = 32, beta: float = 0.25
    ):
        super().__init__()
        self.levels, self.codebook_size, self.beta = levels, codebook_size, beta
        self.codebooks = nn.Parameter(torch.randn(levels, codebook_size, dim) * 0.01)  # (L, K, d)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (B, d) → z_q with straight-through gradients (B, d), codes (B, L), VQ loss (scalar)."""
        residual, z_q, loss, codes = z, torch.zeros_like(z), z.new_zeros(()), []
        for level in range(self.levels):
            book = self.codebooks[level]
            idx = assign(residual.detach(), book.detach())
            chosen = book[idx]  # (B, d)
            loss = loss + (residual.detach() - chosen).square().mean()  # codebook term
            loss = loss + self.beta * (residual - chosen.detach()).square().mean()  # commitment
            z_q = z_q + chosen
            residual = residual - chosen.detach()
            codes.append(idx)
        z_q = z + (z_q - z).detach()  # straight-through estimator
        return z_q, torch.stack(codes, 1), loss

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        return self(z)[1]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, L) → Σ_l codebook_l[code_l] (B, d)."""
        return sum(self.codebooks[level][codes[:, level]] for level in range(self.levels))

    @torch.no_grad()
    def init_kmeans(self, z: torch.Tensor, seed: int = 0) -> None:
        residual = z.detach()
        for level in range(self.levels):
            self.codebooks[level] = kmeans(
                residual, self.codebook_size, iters=25, seed=seed + level
            )
            residual = residual - self.codebooks[level][assign(residual, self.codebooks[level])]

    @torch.no_grad()
    def reset_dead(self, z: torch.Tensor, gen: torch.Generator) -> int:
        """Re-seed codes that no row of z uses on randomly drawn residuals; → number reset."""
        residual, reset = z.detach(), 0
        for level in range(self.levels):
            book = self.codebooks[level]
            idx = assign(residual, book)
            dead = torch.bincount(idx, minlength=self.codebook_size) == 0
            if dead.any():
                pick = torch.randint(len(residual), (int(dead.sum()),), generator=gen)
                book[dead] = residual[pick.to(residual.device)]
                reset += int(dead.sum())
                idx = assign(residual, book)
            residual = residual - book[idx]
        return reset
