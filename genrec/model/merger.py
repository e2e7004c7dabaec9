"""The asymmetric linear token merger (GenRec, seed 001).

A history item costs `sid_depth` prompt tokens; the merger maps the concatenation of an item's
token embeddings to `out_tokens` embeddings with one linear layer, so a 20-item prompt shrinks
from 80 to 20 * out_tokens positions. Only the prompt is merged: the decoder still generates
(and is trained on) one token per SID level, which is what keeps it asymmetric.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenMerger(nn.Module):
    def __init__(self, depth: int, hidden: int, out_tokens: int):
        super().__init__()
        if not 1 <= out_tokens < depth:
            raise ValueError(f"the merger maps {depth} tokens to 1..{depth - 1}, not {out_tokens}")
        self.depth, self.hidden, self.out_tokens = depth, hidden, out_tokens
        self.proj = nn.Linear(depth * hidden, out_tokens * hidden)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Start as mean pooling of consecutive tokens (output j averages its share of the
        levels), so training begins from a prompt the decoder can already read."""
        group = torch.arange(self.depth) * self.out_tokens // self.depth  # level → output
        pool = torch.zeros(self.out_tokens, self.depth)
        pool[group, torch.arange(self.depth)] = 1.0
        pool /= pool.sum(1, keepdim=True)
        eye = torch.eye(self.hidden)
        self.proj.weight.copy_(torch.einsum("od,hk->ohdk", pool, eye).reshape_as(self.proj.weight))
        self.proj.bias.zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (..., depth, C) embeddings of each item's SID → (..., out_tokens, C)."""
        merged = self.proj(tokens.flatten(-2))
        return merged.unflatten(-1, (self.out_tokens, self.hidden))
