"""SASRec (Kang & McAuley, 2018): causal self-attention over the item sequence.

Trained with cross-entropy over the whole catalogue (the variant public reproductions use to
reach Recall@10 ≈ 0.07 on Beauty). Item ids are shifted by one inside the model: 0 is padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SASRecConfig:
    n_items: int  # catalogue size (without padding)
    max_len: int = 20  # history length the model sees
    d_model: int = 64  # embedding and hidden size
    n_layers: int = 2  # transformer blocks
    n_heads: int = 2  # attention heads
    dropout: float = 0.5  # embedding / attention / MLP dropout (Beauty-scale data overfits fast)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: SASRecConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(  # (B, nh, T, hs)
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class FeedForward(nn.Module):
    def __init__(self, cfg: SASRecConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_model),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.d_model, cfg.d_model),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    def __init__(self, cfg: SASRecConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask)
        return x + self.ffn(self.ln2(x))


class SASRec(nn.Module):
    def __init__(self, cfg: SASRecConfig):
        super().__init__()
        self.cfg = cfg
        self.item_emb = nn.Embedding(cfg.n_items + 1, cfg.d_model, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq (B, T) shifted item ids, left-padded with 0 → hidden states (B, T, d)."""
        T = seq.shape[1]
        pos = torch.arange(T, device=seq.device)
        x = self.item_emb(seq) * math.sqrt(self.cfg.d_model) + self.pos_emb(pos)[None]
        x = self.drop(x * (seq > 0)[..., None])
        # causal and not padding; every position keeps itself so padded rows stay finite
        causal = torch.ones(T, T, dtype=torch.bool, device=seq.device).tril()
        mask = causal[None] & (seq > 0)[:, None, :] | torch.eye(
            T, dtype=torch.bool, device=seq.device
        )
        for block in self.blocks:
            x = block(x, mask[:, None])  # (B, 1, T, T) broadcasts over heads
        return self.ln_f(x)

    def item_embeddings(self) -> torch.Tensor:
        return self.item_emb.weight[1:]  # (n_items, d)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.item_embeddings().T  # (..., n_items)

    def encode_histories(self, histories: list[np.ndarray]) -> torch.Tensor:
        """Histories (oldest first, ≤ max_len) → the last position's hidden state (B, d)."""
        seq = pad_left(histories, self.cfg.max_len, device=self.item_emb.weight.device)
        return self(seq)[:, -1]

    @torch.no_grad()
    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> torch.Tensor:
        self.eval()
        return self.logits(self.encode_histories(histories))


def pad_left(
    seqs: list[np.ndarray], length: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Item indices → (B, length) shifted ids (index + 1), keeping the last `length`, 0-padded."""
    out = np.zeros((len(seqs), length), np.int64)
    for row, seq in enumerate(seqs):
        tail = np.asarray(seq[-length:], np.int64)
        if len(tail):
            out[row, length - len(tail) :] = tail + 1
    return torch.from_numpy(out).to(device)
