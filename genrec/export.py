"""`genrec export`: a trained checkpoint plus the tokenizer-store version it was trained on →
the next numbered version folder of a Triton model repository (`<repo>/<name>/<N>/`).

The version folder holds what it serves (`decoder/` = the checkpoint, `tokenizer_store/` = the
store version, `catalog.json` = titles and popularity for the gateway, `export.json` = where it
came from and the store it holds, and `model.py`, a link to the model folder's thin Triton entry
point; names in `genrec.contract.VERSION_FILES`), so a server never depends on paths of the machine
that trained the model, and the pair is checked (fingerprint + SID checksums) before anything
is written. Written to a temporary folder and renamed into place, like every other artifact
here. The store pin is export.json's (`genrec.contract.STORE_PIN`), which the served model
checks: the model's configurations are never edited, since they apply to every version and are
tracked in git (an export leaves the checkout clean).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from genrec.atomic import atomic_folder
from genrec.contract import STORE_PIN, VERSION_FILES, store_label
from genrec.data import Dataset
from genrec.errors import GenrecError
from genrec.model.checkpoint import load_checkpoint, read_meta
from genrec.tokenizer.store import TokenizerStore


def catalog(dataset: Dataset) -> dict:
    """What the gateway needs beside item ids: titles, and items by interaction count (the
    page for users with no history and for fallbacks)."""
    items = np.concatenate([u.items for u in dataset.users])
    counts = np.bincount(items, minlength=dataset.n_items)
    return {
        "dataset": dataset.name,
        "titles": [item.title for item in dataset.items],
        "popular": np.argsort(-counts, kind="stable")[:1000].tolist(),
    }


# The checkout's model repository: the model's configurations and Triton entry point, which a
# new repository elsewhere (`genrec run` in a user's own folder) starts from.
TEMPLATE = Path(__file__).resolve().parents[1] / "model_repo"


def _seed(base: Path, name: str) -> None:
    """A repository without the model's configuration gets the checkout's (config.pbtxt, the
    device variants under configs/, model.py): versions alone would not load."""
    if (base / "config.pbtxt").is_file():
        return
    template = TEMPLATE / name
    if not (template / "config.pbtxt").is_file():
        raise GenrecError(
            f"{base}: no config.pbtxt, and no model repository to copy it from at {template}"
        )
    base.mkdir(parents=True, exist_ok=True)
    for entry in template.iterdir():
        if entry.name.isdigit() or entry.name.startswith(".") or entry.name == "__pycache__":
            continue  # versions (the checkout's own exports) and temporary folders
        if entry.is_dir():
            shutil.copytree(entry, base / entry.name, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, base / entry.name)


def export(
    checkpoint: Path,
    repo: Path,
    dataset: Dataset,
    name: str = "genrec",
    store: Path | None = None,
) -> Path:
    """→ the version folder written. `store` overrides the store path the checkpoint recorded
    (e.g. when it was trained on another machine)."""
    meta = read_meta(checkpoint)
    store_path = store or Path(meta["tokenizer_store"])
    tokenizer = TokenizerStore.load(store_path, dataset.fingerprint())
    load_checkpoint(checkpoint, tokenizer)  # refuses a mismatched pair
    base = repo / name
    _seed(base, name)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
    version = base / str(max(versions, default=0) + 1)
    with atomic_folder(version) as tmp:
        shutil.copytree(checkpoint, tmp / VERSION_FILES.decoder)
        shutil.copytree(store_path, tmp / VERSION_FILES.tokenizer_store)
        if (base / VERSION_FILES.model).is_file():
            # A link, not a copy: model.py calls the installed library, so a version must run
            # the entry point of the library that serves it. A copy from an older genrec
            # failed every request after an upgrade (an API it called was gone).
            (tmp / VERSION_FILES.model).symlink_to(Path("..") / VERSION_FILES.model)
        (tmp / VERSION_FILES.catalog).write_text(json.dumps(catalog(dataset)))
        info = {
            "checkpoint": str(checkpoint),
            "dataset": meta["dataset"],
            **{k: meta[k] for k in ("data_source",) if k in meta},
            "size": meta.get("size", ""),
            STORE_PIN: store_label(tokenizer.manifest),  # the store copied, `--store` or not
            "prompt": meta["prompt"],
            "test": meta.get("test", {}),
        }
        (tmp / VERSION_FILES.export).write_text(json.dumps(info, indent=2) + "\n")
    return version
