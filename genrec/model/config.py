"""Named decoder sizes and the Hugging Face model they build (Qwen2ForCausalLM, so standard tools
load a saved checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from genrec.model.vocab import SIDVocab


@dataclass(frozen=True)
class DecoderSize:
    hidden: int  # model width
    layers: int  # transformer blocks
    heads: int  # attention heads
    kv_heads: int  # key/value heads (GQA when < heads)
    mlp: int  # SwiGLU intermediate width


SIZES = {
    "tiny": DecoderSize(hidden=64, layers=2, heads=4, kv_heads=2, mlp=128),  # CPU tests
    "5m": DecoderSize(hidden=256, layers=4, heads=4, kv_heads=4, mlp=1024),  # TIGER-sized
    "26m": DecoderSize(hidden=512, layers=6, heads=8, kv_heads=8, mlp=2048),
    "200m": DecoderSize(hidden=1024, layers=12, heads=16, kv_heads=16, mlp=4096),
    # Qwen3-1.7B's widths (1.4B parameters outside the embeddings, as there): the decoder of
    # NVIDIA's generative-recommender inference example, for `genrec bench-decode`.
    "1.4b": DecoderSize(hidden=2048, layers=28, heads=16, kv_heads=8, mlp=6144),
}


def qwen2_config(
    size: str, vocab: SIDVocab, max_positions: int = 512, dropout: float = 0.0
) -> Qwen2Config:
    s = SIZES[size]
    return Qwen2Config(
        vocab_size=vocab.size,
        hidden_size=s.hidden,
        intermediate_size=s.mlp,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        num_key_value_heads=s.kv_heads,
        max_position_embeddings=max_positions,
        attention_dropout=dropout,
        tie_word_embeddings=False,
        pad_token_id=vocab.pad,
        bos_token_id=vocab.bos,
        eos_token_id=vocab.eos,
    )


def build_decoder(
    size: str, vocab: SIDVocab, seed: int = 0, dropout: float = 0.0
) -> Qwen2ForCausalLM:
    """A randomly initialised decoder (weights from the seed; eval mode)."""
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(qwen2_config(size, vocab, dropout=dropout)).eval()
