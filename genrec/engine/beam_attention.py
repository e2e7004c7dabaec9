"""Beam decode attention as one Triton kernel: a step's W beams of a request attend to the
request's prompt keys (read once per block of beams and query heads, not once per beam) and to
their own ancestors' generated keys (gathered by lineage, one key per earlier step, instead of
a mask over every beam's slots), and the step's new keys and values go into the cache from the
same kernel.

Why a kernel: the general path (`Qwen2Runner.decode` under `scaled_dot_product_attention`)
needs, per step, a (B, W, P + T*W) additive mask built from the lineage, two strided copies of
the new keys/values into the cache and a transposed copy of the output, and its fused kernels
tile 20 queries into blocks of 64; here each program holds BLOCK_M (beam, query head) rows of
one key/value head, so grouped-query heads share their loads too. Everything stays a device
launch with static arguments, so the search is still one CUDA graph.

Layouts (last dimension contiguous): q (B, W, Hq, hd) and the new k, v (B, W, Hkv, hd) as the
fused projection leaves them; the cache (B, Hkv, P + T*W + ..., hd), the prompt first, then one
block of W slots per step (`Qwen2Runner.new_cache`); lineage (B, W, T), the beam column of each
beam's step-j ancestor; output (B, W, Hq, hd), which the output projection reads as it is.
Query head i reads key/value head i // (Hq / Hkv), as `enable_gqa` does.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _fold(m_i, l_i, acc, s, v):
    """Online softmax over one more key per row: scores s (M,), values v (M, D)."""
    m_new = tl.maximum(m_i, s)
    alpha = tl.exp(m_i - m_new)
    p = tl.exp(s - m_new)
    return m_new, l_i * alpha + p, acc * alpha[:, None] + p[:, None] * v


@triton.jit
def _beam_attention_kernel(
    Q, K_NEW, V_NEW, K_CACHE, V_CACHE, VALID, LINEAGE, OUT,
    sq_b, sq_w, sq_h, sk_b, sk_w, sk_h, sv_b, sv_w, sv_h,  # strides: q, the new k and v
    sc_b, sc_h, sc_l, sl_b, sl_w, so_b, so_w, so_h,  # the caches, lineage, output
    prompt_len, step, scale,
    W: tl.constexpr, GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PADDED: tl.constexpr, IEEE: tl.constexpr,
):  # fmt: skip
    block, kv_head, b = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    rows = block * BLOCK_M + tl.arange(0, BLOCK_M)  # (beam, query head of the group) pairs
    live = rows < W * GROUP
    beam, head = rows // GROUP, kv_head * GROUP + rows % GROUP
    d = tl.arange(0, HEAD_DIM)
    q = tl.load(
        Q + b * sq_b + beam[:, None] * sq_w + head[:, None] * sq_h + d[None, :],
        mask=live[:, None], other=0.0,
    )  # (M, D)  # fmt: skip
    k_base = K_CACHE + b * sc_b + kv_head * sc_h
    v_base = V_CACHE + b * sc_b + kv_head * sc_h

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    # The prompt: every row reads the same keys, BLOCK_N at a time, as one matrix product.
    for start in range(0, prompt_len, BLOCK_N):
        n = start + tl.arange(0, BLOCK_N)
        inside = n < prompt_len
        k = tl.load(k_base + n[:, None] * sc_l + d[None, :], mask=inside[:, None], other=0.0)
        v = tl.load(v_base + n[:, None] * sc_l + d[None, :], mask=inside[:, None], other=0.0)
        if IEEE:
            s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
        else:
            s = tl.dot(q, tl.trans(k)) * scale  # (M, N)
        if PADDED:
            inside &= tl.load(VALID + b * prompt_len + n, mask=inside, other=0) != 0
        s = tl.where(inside[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # a block of padding only
        alpha = tl.exp(m_i - m_safe)
        p = tl.exp(s - m_safe[:, None])
        if IEEE:
            pv = tl.dot(p, v.to(tl.float32), input_precision="ieee")
        else:
            pv = tl.dot(p.to(v.dtype), v)
        acc = acc * alpha[:, None] + pv
        l_i = l_i * alpha + tl.sum(p, 1)
        m_i = m_new
    # Earlier steps: one key per row, its ancestor's slot in that step's block.
    q32 = q.to(tl.float32)
    for j in range(step):
        column = tl.load(LINEAGE + b * sl_b + beam * sl_w + j, mask=live, other=0)
        slot = prompt_len + j * W + column
        k = tl.load(k_base + slot[:, None] * sc_l + d[None, :], mask=live[:, None], other=0.0)
        v = tl.load(v_base + slot[:, None] * sc_l + d[None, :], mask=live[:, None], other=0.0)
        s = tl.sum(q32 * k.to(tl.float32), 1) * scale
        m_i, l_i, acc = _fold(m_i, l_i, acc, s, v.to(tl.float32))
    # This step: the beam's own new key, which also goes into its slot for the steps after.
    k_new = K_NEW + b * sk_b + beam[:, None] * sk_w + kv_head * sk_h + d[None, :]
    v_new = V_NEW + b * sv_b + beam[:, None] * sv_w + kv_head * sv_h + d[None, :]
    k = tl.load(k_new, mask=live[:, None], other=0.0)
    v = tl.load(v_new, mask=live[:, None], other=0.0)
    m_i, l_i, acc = _fold(
        m_i, l_i, acc, tl.sum(q32 * k.to(tl.float32), 1) * scale, v.to(tl.float32)
    )
    slot = prompt_len + step * W + beam
    first = live & (rows % GROUP == 0)  # one row per beam writes its key and value
    tl.store(k_base + slot[:, None] * sc_l + d[None, :], k, mask=first[:, None])
    tl.store(v_base + slot[:, None] * sc_l + d[None, :], v, mask=first[:, None])

    out = acc / l_i[:, None]
    tl.store(
        OUT + b * so_b + beam[:, None] * so_w + head[:, None] * so_h + d[None, :],
        out.to(OUT.dtype.element_ty), mask=live[:, None],
    )  # fmt: skip


def beam_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    prompt_len: int,
    step: int,
    lineage: torch.Tensor,
    valid: torch.Tensor | None,
    block_m: int | None = None,
    num_warps: int = 4,
) -> torch.Tensor:
    """q (B, W, Hq, hd), the step's k, v (B, W, Hkv, hd); writes k, v into the cache's slots
    of `step` and → attention output (B, W, Hq, hd). valid (B, P) marks real prompt positions
    (None: all are). block_m: (beam, head) rows per program (default: all of a key/value head's
    rows, 16 to 64)."""
    B, W, Hq, hd = q.shape
    Hkv = k.shape[2]
    group = Hq // Hkv
    for t in (q, k, v, k_cache, v_cache, lineage):
        if t.stride(-1) != 1:
            raise ValueError("beam_attention needs the last dimension contiguous")
    if k_cache.stride() != v_cache.stride():
        raise ValueError("the key and value caches must share one layout")
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    rows = W * group
    block_m = block_m or max(16, min(64, triton.next_power_of_2(rows)))
    grid = (triton.cdiv(rows, block_m), Hkv, B)
    _beam_attention_kernel[grid](
        q, k, v, k_cache, v_cache, q if valid is None else valid.contiguous(), lineage, out,
        *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], k_cache.stride(0), k_cache.stride(1),
        k_cache.stride(2), lineage.stride(0), lineage.stride(1), *out.stride()[:3],
        prompt_len, step, hd**-0.5,
        W=W, GROUP=group, HEAD_DIM=hd, BLOCK_M=block_m, BLOCK_N=64, PADDED=valid is not None,
        IEEE=q.dtype == torch.float32, num_warps=num_warps,
    )  # fmt: skip
    return out
