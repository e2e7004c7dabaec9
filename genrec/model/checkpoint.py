"""Decoder checkpoints: a Hugging Face folder (`save_pretrained`, so standard tools load the
Qwen2 model), the token merger's and the dense head's weights when it has them, and
`genrec.json`, which pins the prompt layout, the dense head's settings and the tokenizer-store
version and dataset fingerprint the model was trained against. Written to a temporary folder
and renamed into place, so an interrupted save leaves nothing half-written."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from safetensors.torch import load_file, save_file
from transformers import Qwen2ForCausalLM

from genrec.atomic import atomic_folder
from genrec.contract import CHECKPOINT_FILES as FILES
from genrec.contract import STORE_FILES
from genrec.errors import GenrecError
from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore


def save_checkpoint(
    decoder: SIDDecoder, store: TokenizerStore, store_path: Path, out: Path, extra: dict
) -> Path:
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    with atomic_folder(out) as tmp:
        decoder.lm.save_pretrained(tmp)
        if decoder.merger is not None:
            save_file(
                {k: v.contiguous() for k, v in decoder.merger.state_dict().items()},
                tmp / FILES.merger,
            )
        if decoder.item_head is not None:
            save_file(
                {"weight": decoder.item_head.weight.detach().contiguous()}, tmp / FILES.item_head
            )
        meta = {
            "tokenizer_store": str(store_path),
            "store_version": store.manifest["version"],
            "dataset": store.manifest["dataset"],
            "dataset_fingerprint": store.manifest["dataset_fingerprint"],
            **{k: store.manifest[k] for k in ("data_source",) if k in store.manifest},
            "store_sha256": _store_digest(store),
            "vocab": asdict(decoder.vocab),
            "prompt": asdict(decoder.prompt),
            "dense": asdict(decoder.dense),
            **extra,
        }
        (tmp / FILES.meta).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _store_digest(store: TokenizerStore) -> dict[str, str]:
    """The checksums of the store files a decoder depends on: its item SIDs and user SCIDs."""
    files = store.manifest["files"]
    return {name: files[name]["sha256"] for name in (STORE_FILES.item_sids, STORE_FILES.user_scids)}


def read_meta(path: Path) -> dict:
    if not (path / FILES.meta).is_file():
        raise GenrecError(f"{path}: not a genrec checkpoint ({FILES.meta} missing)")
    return json.loads((path / FILES.meta).read_text())


def load_checkpoint(path: Path, store: TokenizerStore) -> tuple[SIDDecoder, dict]:
    """→ the decoder (eval mode) and its genrec.json; refuses a store it was not trained on."""
    meta = read_meta(path)
    m = store.manifest
    if (meta["dataset_fingerprint"], meta["store_sha256"]) != (
        m["dataset_fingerprint"], _store_digest(store)
    ):  # fmt: skip
        raise GenrecError(
            f"{path}: trained against tokenizer store {meta['dataset']}/{meta['store_version']}, "
            f"given {m['dataset']}/{m['version']}"
        )
    lm = Qwen2ForCausalLM.from_pretrained(path)
    dense = DenseConfig(**meta.get("dense", {}))  # checkpoints before the dense head have none
    decoder = SIDDecoder(
        lm, SIDVocab(**meta["vocab"]), PromptConfig(**meta["prompt"]), store.item_sids,
        dense=dense,
    )  # fmt: skip
    if decoder.merger is not None:
        decoder.merger.load_state_dict(load_file(str(path / FILES.merger)))
    if decoder.item_head is not None:
        decoder.item_head.load_state_dict(load_file(str(path / FILES.item_head)))
    return decoder.eval(), meta
