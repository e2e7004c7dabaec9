"""RQ-VAE with a semantic-collaborative fusion encoder (Align3GR's SC encoder + RQ-VAE).

The encoder is an MLP over the concatenated signals (text ⊕ collaborative), so fusion is
learned rather than fixed; the residual quantizer turns its output into `levels` codes; the
decoder reconstructs the concatenated input. Items and users each get one (dual SCIDs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genrec.tokenizer.quantizer import ResidualQuantizer


@dataclass(frozen=True)
class RQVAEConfig:
    levels: int = 3  # semantic levels (a 4th, collision level is added afterwards)
    codebook_size: int = 256  # codes per level
    code_dim: int = 32  # latent / codebook vector size (Align3GR)
    hidden: tuple[int, ...] = (512, 256)  # encoder widths; the decoder mirrors them
    beta: float = 0.25  # commitment weight


def mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(dims)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


@dataclass
class RQVAEOutput:
    z: torch.Tensor  # (B, code_dim) SC embedding before quantization
    codes: torch.Tensor  # (B, levels)
    recon: torch.Tensor  # (B, in_dim)
    recon_loss: torch.Tensor
    vq_loss: torch.Tensor


class RQVAE(nn.Module):
    def __init__(self, in_dim: int, cfg: RQVAEConfig):
        super().__init__()
        self.in_dim, self.cfg = in_dim, cfg
        self.encoder = mlp([in_dim, *cfg.hidden, cfg.code_dim])
        self.quantizer = ResidualQuantizer(cfg.levels, cfg.codebook_size, cfg.code_dim, cfg.beta)
        self.decoder = mlp([cfg.code_dim, *reversed(cfg.hidden), in_dim])

    def forward(self, x: torch.Tensor) -> RQVAEOutput:
        z = self.encoder(x)
        z_q, codes, vq_loss = self.quantizer(z)
        recon = self.decoder(z_q)
        return RQVAEOutput(z, codes, recon, F.mse_loss(recon, x), vq_loss)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """x (N, in_dim) → codes (N, levels) by nearest-code assignment."""
        return torch.cat(
            [self.quantizer.encode(self.encoder(x[i : i + chunk])) for i in range(0, len(x), chunk)]
        )

    @torch.no_grad()
    def reconstruct(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.quantizer.decode(codes))
