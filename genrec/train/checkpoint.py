"""Decoder checkpoints: a Hugging Face folder (`save_pretrained`) plus `genrec.json`, which pins
the tokenizer-store version and dataset fingerprint the model was trained against. Written to a
temporary folder and renamed into place, so an interrupted save leaves nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from transformers import Qwen2ForCausalLM

from genrec.errors import GenrecError
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore

META = "genrec.json"


def save_checkpoint(
    model: Qwen2ForCausalLM,
    store: TokenizerStore,
    store_path: Path,
    vocab: SIDVocab,
    out: Path,
    extra: dict,
) -> Path:
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        meta = {
            "tokenizer_store": str(store_path),
            "store_version": store.manifest["version"],
            "dataset": store.manifest["dataset"],
            "dataset_fingerprint": store.manifest["dataset_fingerprint"],
            "vocab": asdict(vocab),
            **extra,
        }
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_checkpoint(path: Path) -> tuple[Qwen2ForCausalLM, dict]:
    """→ the model (eval mode) and its genrec.json."""
    if not (path / META).is_file():
        raise GenrecError(f"{path}: not a genrec checkpoint ({META} missing)")
    meta = json.loads((path / META).read_text())
    return Qwen2ForCausalLM.from_pretrained(path).eval(), meta
