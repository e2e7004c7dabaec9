"""`load_trained`: a checkpoint with everything that was trained beside it, for the commands
that start from one (align, slate, their benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrec.data import Dataset, Split, leave_one_out, load_recorded
from genrec.model.checkpoint import load_checkpoint, read_meta
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore


@dataclass
class Trained:
    decoder: SIDDecoder
    meta: dict  # the checkpoint's genrec.json
    store: TokenizerStore
    store_path: Path
    data: Dataset
    split: Split


def load_trained(checkpoint: Path, data_dir: Path | None = None) -> Trained:
    """The checkpoint, its dataset, the tokenizer store it recorded (checked against the data's
    fingerprint) and the leave-one-out split."""
    meta = read_meta(checkpoint)
    data = load_recorded(meta, data_dir)
    store_path = Path(meta["tokenizer_store"])
    store = TokenizerStore.load(store_path, data.fingerprint())
    decoder, _ = load_checkpoint(checkpoint, store)
    return Trained(decoder, meta, store, store_path, data, leave_one_out(data))
