"""Beam attention launch settings timed on one GPU (rows per program x warps, device µs per call
by `triton.testing.do_bench`): the figures behind the defaults of `genrec.engine.beam_attention`.

Run on a CUDA machine: `python scripts/beam_attention_settings.py`.
"""

from __future__ import annotations

import functools

import torch
import triton

from genrec.engine.beam_attention import beam_attention

# name, batch, beams, query heads, key/value heads, head dim, prompt length, generated steps
SHAPES = (
    ("26m, batch 256", 256, 20, 8, 8, 64, 81, 3),
    ("26m, batch 1", 1, 20, 8, 8, 64, 81, 3),
    ("1.4b, batch 1", 1, 256, 16, 8, 128, 1000, 2),
    ("1.4b, batch 8", 8, 256, 16, 8, 128, 1000, 2),
)


def main() -> None:
    dev, dtype = "cuda", torch.bfloat16
    for name, B, W, Hq, Hkv, hd, P, T in SHAPES:
        q = torch.randn(B, W, Hq, hd, device=dev, dtype=dtype)
        k, v = (torch.randn(B, W, Hkv, hd, device=dev, dtype=dtype) for _ in range(2))
        caches = [torch.randn(B, Hkv, P + T * W, hd, device=dev, dtype=dtype) for _ in range(2)]
        lineage = torch.randint(0, W, (B, W, T), device=dev)
        rows = W * Hq // Hkv
        for block_m in (16, 32, 64, 128):
            if block_m > max(32, triton.next_power_of_2(rows)):
                continue
            for num_warps in (2, 4, 8):
                call = functools.partial(
                    beam_attention, q, k, v, *caches, P, T - 1, lineage, None,
                    block_m=block_m, num_warps=num_warps,
                )  # fmt: skip
                us = triton.testing.do_bench(call, warmup=20, rep=100) * 1e3
                print(f"{name:16s} block_m {block_m:4d} warps {num_warps}: {us:8.1f} us")


if __name__ == "__main__":
    main()
