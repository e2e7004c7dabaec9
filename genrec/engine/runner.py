"""Model runner: the Qwen2 forward pass written for beam search over short SIDs.

It reads the weights of a Hugging Face `Qwen2ForCausalLM` and runs two kinds of pass:
- `prefill`: the (left-padded) prompts once per request → last-position logits and the
  prompt's key/value cache, (B, Hkv, P, hd) per layer;
- `decode`: one token for each of W beams → logits. Keys and values live in one buffer per
  request, (B, Hkv, P + T*W, hd): the prompt once, then one block of W slots per step, so a
  step writes one slice. A beam's query attends to the prompt and to its ancestors' slots
  through a mask (the caller tracks lineage), so beams share the prompt's cache, nothing is
  copied when beams are reordered, and each step is one fused attention call per layer.
All shapes are static for a given (batch, prompt length), so the whole search can be captured
in one CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import Qwen2ForCausalLM


@dataclass
class Layer:
    ln_attn: torch.Tensor  # (C,)
    qkv_w: torch.Tensor  # (Hq*hd + 2*Hkv*hd, C), q, k, v projections fused
    qkv_b: torch.Tensor
    o_w: torch.Tensor  # (C, Hq*hd)
    ln_mlp: torch.Tensor
    gate_up_w: torch.Tensor  # (2*I, C)
    down_w: torch.Tensor  # (C, I)


# Measured on an H100 (B=256, 20 queries x 141 keys, additive mask): memory-efficient attention
# 85 us, cuDNN 181 us, math 435 us. On the CPU the flash kernel serves.
BACKENDS = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]
# An unpadded prefill is plain causal attention, compute-bound on long prompts: cuDNN's and
# flash's kernels first (H200, the 1.4b size's 1,000-token prompts at batch 1, `genrec
# bench-decode --profile`: 1.40 ms of prefill attention under BACKENDS, 0.49 ms under these).
CAUSAL_BACKENDS = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, *BACKENDS]


# With `fuse`, the per-token work is compiled over a flat token dimension marked dynamic with
# this bound: Inductor then proves every index fits in int32. Unbounded dynamic shapes made it
# index in int64, and the rotary and SiLU kernels ran 2-4x slower (H100, 26M model, batch 256:
# 12.2 → 9.7 ms per search); static shapes are as fast but recompile for every bucket.
MAX_TOKENS = 2**17


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """bool mask → 0 / -inf bias, built once and shared by every layer."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, float("-inf")
    )


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Qwen2's RMSNorm: normalise in float32, scale in the weight's dtype."""
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)).to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rotated * sin


class Qwen2Runner:
    def __init__(
        self,
        model: Qwen2ForCausalLM,
        dtype: torch.dtype,
        device: torch.device,
        max_positions: int = 1024,
        fuse: bool = False,
        beam_kernel: bool = False,
    ):
        """beam_kernel: beam-search steps run `decode_beams` (the Triton kernel) rather than
        `decode` under a lineage mask."""
        cfg = model.config
        self.beam_kernel = beam_kernel
        self.n_heads, self.n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps, self.vocab_size = cfg.rms_norm_eps, cfg.vocab_size
        self.dtype, self.device = dtype, device

        def w(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(device=device, dtype=dtype).contiguous()

        self.layers = []
        for layer in model.model.layers:
            a, m = layer.self_attn, layer.mlp
            self.layers.append(Layer(
                ln_attn=w(layer.input_layernorm.weight),
                qkv_w=w(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])),
                qkv_b=w(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])),
                o_w=w(a.o_proj.weight),
                ln_mlp=w(layer.post_attention_layernorm.weight),
                gate_up_w=w(torch.cat([m.gate_proj.weight, m.up_proj.weight])),
                down_w=w(m.down_proj.weight),
            ))  # fmt: skip
        self.embed = w(model.model.embed_tokens.weight)
        self.norm = w(model.model.norm.weight)
        self.lm_head = w(model.lm_head.weight)
        rope = getattr(cfg, "rope_parameters", None) or {
            "rope_theta": getattr(cfg, "rope_theta", 1e4)
        }
        inv_freq = 1.0 / rope["rope_theta"] ** (
            torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device) / self.head_dim
        )
        freqs = torch.arange(max_positions, device=device, dtype=torch.float32)[:, None] * inv_freq
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos().to(dtype), emb.sin().to(dtype)  # (max_positions, hd)
        self.fuse = fuse
        self._tokens_qkv, self._tokens_mlp = self._flat_qkv, self._flat_mlp
        if fuse:
            # Profiled on an H100, unfused elementwise work (RMSNorm casts, rotary, SiLU·up) was
            # about half the search; Inductor fuses each chain into one kernel.
            self._tokens_qkv = torch.compile(self._flat_qkv)
            self._tokens_mlp = torch.compile(self._flat_mlp)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.embed)

    def _tokens(self, flat: torch.Tensor) -> torch.Tensor:
        """flat (N, ...) with its token dimension marked dynamic (bounded) for Inductor."""
        if self.fuse and 2 <= len(flat) <= MAX_TOKENS:  # sizes 0 and 1 are always specialised
            torch._dynamo.mark_dynamic(flat, 0, min=2, max=MAX_TOKENS)
        return flat

    def _flat(self, x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else self._tokens(x.reshape(-1, x.shape[-1]))

    def _qkv(self, layer: Layer, x: torch.Tensor, delta: torch.Tensor | None, pos: torch.Tensor):
        """The residual stream x (..., C) plus the previous layer's pending `delta`, pos (...)
        → that sum, q (..., Hq, hd), k and v (..., Hkv, hd)."""
        x2, q, k, v = self._tokens_qkv(
            layer, self._flat(x), self._flat(delta), self._tokens(pos.reshape(-1))
        )
        lead = x.shape[:-1]
        return x2.view(x.shape), *(t.view(*lead, *t.shape[1:]) for t in (q, k, v))

    def _mlp(self, layer: Layer, x: torch.Tensor, attn_out: torch.Tensor):
        """x (..., C) and the attention's output projection → x + attn_out and the MLP's
        output on it (the next layer's pending delta)."""
        x2, delta = self._tokens_mlp(layer, self._flat(x), self._flat(attn_out))
        return x2.view(x.shape), delta.view(x.shape)

    # Residual adds are carried into the next fused function (delta, attn_out), so Inductor
    # folds each into the RMSNorm that reads the sum: two kernels fewer per layer and pass.
    def _flat_qkv(self, layer: Layer, x: torch.Tensor, delta: torch.Tensor | None, pos):
        """x, delta (N, C), pos (N,) → x + delta, q (N, Hq, hd), k and v (N, Hkv, hd), rotary
        applied to q and k in one pass."""
        if delta is not None:
            x = x + delta
        qkv = F.linear(_rms_norm(x, layer.ln_attn, self.eps), layer.qkv_w, layer.qkv_b)
        qkv = qkv.unflatten(-1, (self.n_heads + 2 * self.n_kv, self.head_dim))
        qk, v = qkv.split([self.n_heads + self.n_kv, self.n_kv], -2)
        qk = _rotate(qk, self.cos[pos][:, None, :], self.sin[pos][:, None, :])
        q, k = qk.split([self.n_heads, self.n_kv], -2)
        return x, q, k, v

    def _flat_mlp(self, layer: Layer, x: torch.Tensor, attn_out: torch.Tensor):
        x = x + attn_out
        gate, up = F.linear(_rms_norm(x, layer.ln_mlp, self.eps), layer.gate_up_w).chunk(2, -1)
        return x, F.linear(F.silu(gate) * up, layer.down_w)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.final_norm(x), self.lm_head).float()

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden state as the LM head (and a dense head) reads it."""
        return _rms_norm(x, self.norm, self.eps)

    def new_cache(
        self, batch: int, prompt_len: int, extra: int
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (K, V) buffers (B, Hkv, prompt_len + extra, hd): the prompt's keys first,
        then `extra` slots for generated tokens. The prefill overwrites the prompt's part; the
        slots start at zero, since a masked-out slot still meets a zero attention weight, and
        0 x NaN from uninitialised memory would poison the sum."""
        shape = (batch, self.n_kv, prompt_len + extra, self.head_dim)

        def buffer() -> torch.Tensor:
            t = torch.empty(shape, dtype=self.dtype, device=self.device)
            t[:, :, prompt_len:].zero_()
            return t

        return [(buffer(), buffer()) for _ in self.layers]

    def prefill(
        self, embeds: torch.Tensor, valid: torch.Tensor, cache: list, padded: bool = True
    ) -> tuple:
        """embeds (B, P, C) left-padded prompts, valid (B, P) bool; writes the prompt keys and
        values into cache[:, :, :P] → last logits (B, V) float32, next positions (B,), and the
        last position's normed hidden state (B, C), the user's vector for a dense head.
        padded=False promises every position is valid: plain causal (flash) attention."""
        P = embeds.shape[1]
        pos = (valid.long().cumsum(1) - 1).clamp_min(0)
        mask = None
        if padded:
            causal = torch.ones(P, P, dtype=torch.bool, device=embeds.device).tril()
            eye = torch.eye(P, dtype=torch.bool, device=embeds.device)
            allowed = (causal[None] & valid[:, None, :]) | eye  # padded rows keep themselves
            mask = additive_mask(allowed[:, None], self.dtype)
        x, delta = embeds, None
        for layer, (k_cache, v_cache) in zip(self.layers, cache, strict=True):
            x, *qkv = self._qkv(layer, x, delta, pos)
            q, k, v = (t.transpose(1, 2) for t in qkv)  # (B, H, P, hd)
            k_cache[:, :, :P] = k
            v_cache[:, :, :P] = v
            with sdpa_kernel(BACKENDS if padded else CAUSAL_BACKENDS):
                attn = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=mask, is_causal=mask is None,
                    enable_gqa=self.n_kv != self.n_heads,
                )  # fmt: skip
            x, delta = self._mlp(layer, x, F.linear(attn.transpose(1, 2).flatten(2), layer.o_w))
        last = self.final_norm(x[:, -1] + delta[:, -1])
        return F.linear(last, self.lm_head).float(), pos[:, -1] + 1, last

    def decode(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: slice,
        mask: torch.Tensor,
        cache: list,
    ) -> torch.Tensor:
        """tokens (B, W) at positions (B, W). Writes their keys/values into the W cache slots
        `slots` (a slice, so a plain strided copy) and attends, under the additive `mask`
        (B, 1, W, L), to the request's prompt plus the beam's own earlier tokens → logits
        (B, W, V)."""

        def attend(q, k, v, k_cache, v_cache):
            k_cache[:, :, slots] = k.transpose(1, 2)
            v_cache[:, :, slots] = v.transpose(1, 2)
            with sdpa_kernel(BACKENDS):
                attn = F.scaled_dot_product_attention(
                    q.transpose(1, 2), k_cache, v_cache, attn_mask=mask,
                    enable_gqa=self.n_kv != self.n_heads,
                )  # fmt: skip
            return attn.transpose(1, 2)

        return self._decode(tokens, positions, cache, attend)

    def decode_beams(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        prompt_len: int,
        step: int,
        lineage: torch.Tensor,
        valid: torch.Tensor | None,
        cache: list,
    ) -> torch.Tensor:
        """One beam-search step in the beam attention kernel (`genrec.engine.beam_attention`):
        tokens (B, W) at positions (B, W) go into step `step`'s W slots; each beam attends to
        the prompt (valid (B, P), None: no padding) and to its ancestors, lineage (B, W, T)
        → logits (B, W, V). The same result as `decode` under the lineage mask."""
        from genrec.engine.beam_attention import beam_attention  # Triton: CUDA (or interpreter)

        def attend(q, k, v, k_cache, v_cache):
            return beam_attention(q, k, v, k_cache, v_cache, prompt_len, step, lineage, valid)

        return self._decode(tokens, positions, cache, attend)

    def _decode(self, tokens: torch.Tensor, positions: torch.Tensor, cache: list, attend):
        """The layers of a decode pass; attend(q, k, v, k_cache, v_cache) stores the step's
        keys/values and → attention output (B, W, Hq, hd)."""
        x, delta = self.embed_tokens(tokens), None  # (B, W, C)
        for layer, (k_cache, v_cache) in zip(self.layers, cache, strict=True):
            # q (B, W, Hq, hd), k/v (B, W, Hkv, hd)
            x, q, k, v = self._qkv(layer, x, delta, positions)
            attn = attend(q, k, v, k_cache, v_cache)
            x, delta = self._mlp(layer, x, F.linear(attn.flatten(2), layer.o_w))
        return self.logits(x + delta)
