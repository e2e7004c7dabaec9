"""A small random Llama shaped like SmolLM2, for the pretrained-start and text-task tests."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

NATIVE = 1500  # its "native" vocabulary, larger than the SID blocks


@pytest.fixture(scope="session")
def llama() -> LlamaForCausalLM:
    """GQA, tied embeddings, no biases, SmolLM2's rope theta."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=NATIVE, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1e5}, max_position_embeddings=256,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()
