"""`genrec export`: a trained checkpoint plus the tokenizer-store version it was trained on →
the next numbered version folder of a Triton model repository (`<repo>/<name>/<N>/`).

The version folder is self-contained (`decoder/` = the checkpoint, `tokenizer_store/` = the
store version), so a server never depends on paths of the machine that trained the model, and
the pair is checked (fingerprint + SID checksums) before anything is written. Written to a
temporary folder and renamed into place, like every other artifact here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from genrec.tokenizer.store import TokenizerStore
from genrec.train.checkpoint import load_checkpoint, read_meta


def export(checkpoint: Path, repo: Path, name: str = "genrec", store: Path | None = None) -> Path:
    """→ the version folder written. `store` overrides the store path the checkpoint recorded
    (e.g. when it was trained on another machine)."""
    meta = read_meta(checkpoint)
    store_path = store or Path(meta["tokenizer_store"])
    load_checkpoint(checkpoint, TokenizerStore.load(store_path))  # refuses a mismatched pair
    base = repo / name
    base.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
    version = base / str(max(versions, default=0) + 1)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=base))
    try:
        shutil.copytree(checkpoint, tmp / "decoder")
        shutil.copytree(store_path, tmp / "tokenizer_store")
        info = {
            "checkpoint": str(checkpoint),
            "dataset": meta["dataset"],
            "store_version": meta["store_version"],
            "prompt": meta["prompt"],
            "test": meta.get("test", {}),
        }
        (tmp / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        os.rename(tmp, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return version
