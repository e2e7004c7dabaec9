"""BLOGER (seed 002): the item tokenizer trained with the recommender in the loop.

A bi-level problem. The lower level trains a recommender θ on the training sequences as the
tokenizer φ tokenizes them; the upper level updates φ on its own loss (reconstruction +
quantization) plus λ times the recommender's loss after the recommender has adapted to φ:

    min_φ  L_tok(φ) + λ L_rec(θ*(φ), φ)    s.t.  θ*(φ) = argmin_θ L_rec(θ, φ)

solved as meta-learning does, with a one-step lookahead θ' = θ - α ∇θ L_rec(θ, φ) on one batch
and the upper gradient taken through θ' on another (second-order terms included). When the
gradients of the two upper terms point against each other, gradient surgery (PCGrad) projects
each onto the other's normal plane before they are summed. Both are switches (`meta`,
`surgery`), so their effect can be measured; λ = 0 is the plain RQ-VAE.

The recommender in the loop is a small causal transformer over the history items' quantized
latents that predicts the next item's latent, scored against every item's quantized latent
(`rec_loss`); its loss reaches the codebooks and, straight through the code assignment, the
encoder. It stands in for the decoder, which is too large to re-train inside this loop.
The tokenizer starts from the trained RQ-VAE; its user half is not changed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.func import functional_call

from genrec.tokenizer.rqvae import RQVAE


@dataclass(frozen=True)
class BlogerConfig:
    steps: int = 400  # upper-level updates of the tokenizer
    warmup_steps: int = 200  # recommender-only steps first, so its loss means something
    batch_size: int = 256  # sequences per batch (each step draws two: lookahead, then upper)
    rec_weight: float = 1.0  # λ, the recommendation loss in the upper objective
    inner_lr: float = 0.1  # α of the one-step lookahead
    rec_lr: float = 1e-3  # the recommender's optimiser (lower level)
    tok_lr: float = 1e-4  # the tokenizer's optimiser (upper level); small: it starts trained
    meta: bool = True  # lookahead through θ'; off: the upper level sees the current θ
    surgery: bool = True  # PCGrad on conflicting upper gradients
    hidden: int = 64  # recommender width
    layers: int = 2
    max_len: int = 20  # history window
    seed: int = 0


@dataclass
class BlogerResult:
    history: list[dict[str, float]] = field(default_factory=list)
    conflict_share: float = 0.0  # share of upper steps whose two gradients conflicted
    seconds: float = 0.0


class LatentRecommender(nn.Module):
    """Causal transformer: quantized latents of the history (B, T, d) → predicted latent of each
    position's next item (B, T, d). Attention is written out, so second derivatives exist."""

    def __init__(self, code_dim: int, hidden: int, layers: int, max_len: int):
        super().__init__()
        self.inp = nn.Linear(code_dim, hidden)
        self.pos = nn.Parameter(torch.randn(max_len, hidden) * 0.02)
        self.blocks = nn.ModuleList(self._block(hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, code_dim)
        self.log_scale = nn.Parameter(torch.zeros(()))  # inverse temperature of the item scores

    @staticmethod
    def _block(hidden: int) -> nn.ModuleDict:
        return nn.ModuleDict({
            "ln1": nn.LayerNorm(hidden), "qkv": nn.Linear(hidden, 3 * hidden),
            "proj": nn.Linear(hidden, hidden), "ln2": nn.LayerNorm(hidden),
            "mlp": nn.Sequential(
                nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden)
            ),
        })  # fmt: skip

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        h = self.inp(x) + self.pos[:T]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        allowed = causal[None] & valid[:, None, :] | torch.eye(T, dtype=torch.bool, device=x.device)
        for b in self.blocks:
            q, k, v = b["qkv"](b["ln1"](h)).chunk(3, -1)
            att = (q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1])
            h = h + b["proj"](att.masked_fill(~allowed, float("-inf")).softmax(-1) @ v)
            h = h + b["mlp"](b["ln2"](h))
        return self.out(h)


def rec_loss(
    rec: LatentRecommender, params: dict[str, torch.Tensor], z_q: torch.Tensor, seqs: torch.Tensor
) -> torch.Tensor:
    """Next-item cross-entropy over the whole catalogue: seqs (B, T + 1) item indices (-1 =
    padding, right-padded), z_q (n_items, d) every item's quantized latent; an item's score is
    minus its latent's squared distance to the predicted one. Items that share a latent cannot
    be told apart, so this loss, unlike a per-code one, does not reward collapsing codes."""
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    scored = targets >= 0
    pred = functional_call(rec, params, (z_q[inputs.clamp_min(0)], inputs >= 0))[scored]
    # -|p - z|^2 = 2 p·z - |z|^2 - |p|^2; the last term is the same for every item.
    logits = params["log_scale"].exp() * (2 * pred @ z_q.T - z_q.square().sum(-1))
    return F.cross_entropy(logits, targets[scored])


def pcgrad(g_tok: torch.Tensor, g_rec: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """PCGrad (Yu et al. 2020) for two flat gradients → their sum, each first projected onto the
    normal plane of the other when they conflict (negative dot product); and whether they did."""
    dot = torch.dot(g_tok, g_rec)
    if dot >= 0:
        return g_tok + g_rec, False
    tok = g_tok - dot / g_rec.square().sum().clamp_min(1e-12) * g_rec
    rec = g_rec - dot / g_tok.square().sum().clamp_min(1e-12) * g_tok
    return tok + rec, True


def training_sequences(train: list[np.ndarray], max_len: int) -> torch.Tensor:
    """Each training sequence's last max_len + 1 items, right-padded with -1 → (N, max_len + 1)."""
    rows = [s[-(max_len + 1) :] for s in train if len(s) >= 2]
    out = np.full((len(rows), max_len + 1), -1, np.int64)
    for r, s in enumerate(rows):
        out[r, : len(s)] = s
    return torch.from_numpy(out)


def train_bloger(
    item: RQVAE,
    item_x: torch.Tensor,
    train: list[np.ndarray],
    cfg: BlogerConfig,
    device: torch.device,
    progress: bool = True,
) -> BlogerResult:
    """Fine-tune the trained item RQ-VAE `item` in place, bi-level with a recommender."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    item.to(device).train()
    item_x = item_x.to(device)
    seqs = training_sequences(train, cfg.max_len).to(device)
    rec = LatentRecommender(item.cfg.code_dim, cfg.hidden, cfg.layers, cfg.max_len).to(device)
    rec_opt = torch.optim.AdamW(rec.parameters(), lr=cfg.rec_lr)
    tok_params = [p for p in item.parameters() if p.requires_grad]
    tok_opt = torch.optim.AdamW(tok_params, lr=cfg.tok_lr)
    books = item.quantizer.codebooks

    def batch() -> torch.Tensor:
        return seqs[torch.randint(len(seqs), (cfg.batch_size,), generator=gen).to(device)]

    def tokenized() -> tuple[torch.Tensor, torch.Tensor]:
        """Every item through φ → its quantized latent, L_tok. The latent's value is the sum of
        its codes' codebook vectors, and its gradient reaches both those vectors and (straight
        through the code assignment) the encoder."""
        out = item(item_x)
        hard = sum(books[level][out.codes[:, level]] for level in range(len(books)))
        return hard + out.z - out.z.detach(), out.recon_loss + out.vq_loss

    def lower_step(z_q: torch.Tensor) -> float:
        loss = rec_loss(rec, dict(rec.named_parameters()), z_q.detach(), batch())
        rec_opt.zero_grad(set_to_none=True)
        loss.backward()
        rec_opt.step()
        return loss.item()

    history, conflicts, start = [], 0, time.perf_counter()
    columns = [TextColumn("BLOGER"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("bilevel", total=cfg.warmup_steps + cfg.steps, status="warm-up")
        with torch.no_grad():
            z_q, _ = tokenized()
        for _ in range(cfg.warmup_steps):
            lower_step(z_q)
            bar.advance(task)
        for step in range(1, cfg.steps + 1):
            z_q, tok_loss = tokenized()
            params = dict(rec.named_parameters())
            if cfg.meta:  # θ' = θ - α ∇θ L_rec(θ, φ), kept differentiable in φ
                inner = rec_loss(rec, params, z_q, batch())
                grads = torch.autograd.grad(inner, list(params.values()), create_graph=True)
                params = {
                    k: p - cfg.inner_lr * g for (k, p), g in zip(params.items(), grads, strict=True)
                }
            upper = rec_loss(rec, params, z_q, batch())
            g_tok = _flat(
                torch.autograd.grad(tok_loss, tok_params, retain_graph=True, allow_unused=True),
                tok_params,
            )
            g_rec = _flat(
                torch.autograd.grad(cfg.rec_weight * upper, tok_params, allow_unused=True),
                tok_params,
            )
            if cfg.surgery:
                total, conflicted = pcgrad(g_tok, g_rec)
            else:
                total, conflicted = g_tok + g_rec, bool(torch.dot(g_tok, g_rec) < 0)
            conflicts += conflicted
            _assign_grads(total, tok_params)
            tok_opt.step()
            rec_loss_now = lower_step(z_q)
            row = {"step": step, "tok_loss": tok_loss.item(), "rec_loss": rec_loss_now,
                   "upper_rec_loss": upper.item(), "conflict": float(conflicted)}  # fmt: skip
            history.append(row)
            bar.update(task, advance=1,
                       status=f"tok {row['tok_loss']:.4f} rec {rec_loss_now:.3f}")  # fmt: skip
    item.eval()
    return BlogerResult(history, conflicts / max(1, cfg.steps), time.perf_counter() - start)


def _flat(grads: tuple[torch.Tensor | None, ...], params: list[torch.Tensor]) -> torch.Tensor:
    """Per-parameter gradients (None: the term does not reach that parameter) → one vector."""
    pairs = zip(grads, params, strict=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in pairs])


def _assign_grads(flat: torch.Tensor, params: list[torch.Tensor]) -> None:
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()
