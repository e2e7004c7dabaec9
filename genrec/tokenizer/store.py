"""The versioned tokenizer store: `tokenizer_store/<dataset>/v<N>/`, self-describing and checked.

Files (named by `genrec.contract.STORE_FILES`, since the gateway reads some of them too):
`manifest.json` (format version, config, dataset fingerprint, metrics, and the size and sha256
of every other file), `item_sids.safetensors`, `user_scids.safetensors`,
`codebooks.safetensors`, `trie.safetensors`, `weights.safetensors` (the trained quantizer, when
there is one), `items.json` / `users.json` (source ids in index order). A version is written to
a temporary folder and renamed into place, so a crash never leaves a half-written version.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genrec.atomic import atomic_folder
from genrec.contract import STORE_FILES as FILES
from genrec.errors import GenrecError
from genrec.tokenizer.trie import Trie

FORMAT_VERSION = 1


class StoreError(GenrecError):
    """A tokenizer store is missing, corrupt, or does not match what the caller expects."""


@dataclass
class TokenizerStore:
    manifest: dict  # dataset, fingerprint, method, signals, config, metrics, ...
    item_ids: list[str]  # source id of item index i
    item_sids: np.ndarray  # (n_items, depth) int64, unique rows
    user_ids: list[str]  # source id of user index u
    user_scids: np.ndarray  # (n_users, levels) int64
    fallback_user_scid: np.ndarray  # (levels,) for users the tokenizer never saw
    codebooks: dict[str, torch.Tensor]  # "item" / "user": (levels, K, d)
    trie: Trie
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    _user_index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def codebook_size(self) -> int:
        return self.trie.codebook_size

    def user_scid(self, user_id: str) -> tuple[np.ndarray, bool]:
        """→ (SCID, is_fallback). Unseen users get the SCID of the average user, flagged."""
        if self._user_index is None:
            self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        index = self._user_index.get(user_id)
        if index is None:
            return self.fallback_user_scid, True
        return self.user_scids[index], False

    def save(self, root: Path) -> Path:
        """Write a new version under `root/<dataset>/` → its folder."""
        base = root / self.manifest["dataset"]
        base.mkdir(parents=True, exist_ok=True)
        version = f"v{max(list_versions(base), default=0) + 1}"
        with atomic_folder(base / version) as tmp:
            tensors = {
                FILES.item_sids: {FILES.sids_tensor: torch.from_numpy(self.item_sids)},
                FILES.user_scids: {
                    FILES.scids_tensor: torch.from_numpy(self.user_scids),
                    FILES.fallback_tensor: torch.from_numpy(self.fallback_user_scid),
                },
                FILES.codebooks: self.codebooks,
                FILES.trie: self.trie.arrays(),
            }
            if self.weights:
                tensors[FILES.weights] = self.weights
            for name, group in tensors.items():
                save_file(
                    {k: v.detach().cpu().contiguous() for k, v in group.items()}, str(tmp / name)
                )
            (tmp / FILES.items).write_text(json.dumps(self.item_ids))
            (tmp / FILES.users).write_text(json.dumps(self.user_ids))
            files = {
                p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                for p in sorted(tmp.iterdir())
            }
            self.manifest |= {
                "format_version": FORMAT_VERSION,
                "version": version,
                "files": files,
                "n_items": len(self.item_ids),
                "n_users": len(self.user_ids),
                "sid_depth": int(self.item_sids.shape[1]),
                "codebook_size": self.codebook_size,
            }
            (tmp / FILES.manifest).write_text(json.dumps(self.manifest, indent=2) + "\n")
        return base / version

    @classmethod
    def load(cls, path: Path, fingerprint: str | None = None) -> TokenizerStore:
        """Read and verify a version folder. `fingerprint`, when given, must match the dataset."""
        manifest = _read_manifest(path)
        if fingerprint is not None and manifest.get("dataset_fingerprint") != fingerprint:
            raise StoreError(
                f"{path}: built for another version of dataset {manifest.get('dataset')!r} "
                f"(fingerprint {manifest.get('dataset_fingerprint')}, expected {fingerprint})"
            )
        for name, meta in manifest["files"].items():
            file = path / name
            if not file.is_file():
                raise StoreError(f"{file}: missing (listed in {FILES.manifest})")
            if file.stat().st_size != meta["bytes"] or _sha256(file) != meta["sha256"]:
                raise StoreError(
                    f"{file}: corrupt or truncated (size or sha256 differs from {FILES.manifest})"
                )
        try:
            sids = load_file(str(path / FILES.item_sids))[FILES.sids_tensor].numpy()
            users = load_file(str(path / FILES.user_scids))
            codebooks = load_file(str(path / FILES.codebooks))
            trie_arrays = load_file(str(path / FILES.trie))
            weights = (
                load_file(str(path / FILES.weights)) if (path / FILES.weights).exists() else {}
            )
            item_ids = json.loads((path / FILES.items).read_text())
            user_ids = json.loads((path / FILES.users).read_text())
        except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as e:
            raise StoreError(f"{path}: unreadable store file ({e})") from None
        store = cls(
            manifest,
            item_ids,
            sids,
            user_ids,
            users[FILES.scids_tensor].numpy(),
            users[FILES.fallback_tensor].numpy(),
            codebooks,
            Trie.from_arrays(trie_arrays, manifest["codebook_size"], manifest["sid_depth"]),
            weights,
        )
        store.check_shapes(path)
        return store

    def check_shapes(self, path: Path | str = "store") -> None:
        m = self.manifest
        expected = {
            "item_sids": (self.item_sids.shape, (m["n_items"], m["sid_depth"])),
            FILES.items: ((len(self.item_ids),), (m["n_items"],)),
            FILES.users: ((len(self.user_ids),), (m["n_users"],)),
            "user_scids": (self.user_scids.shape[:1], (m["n_users"],)),
            "trie leaves": ((len(self.trie.child[-1]) if self.trie.child else 0,), (m["n_items"],)),
        }
        for what, (got, want) in expected.items():
            if tuple(got) != tuple(want):
                raise StoreError(
                    f"{path}: {what} has shape {tuple(got)}, manifest says {tuple(want)}"
                )


def list_versions(base: Path) -> list[int]:
    return sorted(
        int(m.group(1))
        for p in base.glob("v*")
        if (m := re.fullmatch(r"v(\d+)", p.name)) and p.is_dir()
    )


def latest(root: Path, dataset: str) -> Path:
    versions = list_versions(root / dataset)
    if not versions:
        raise StoreError(
            f"{root / dataset}: no tokenizer store (run `genrec tokenize --dataset {dataset}`)"
        )
    return root / dataset / f"v{versions[-1]}"


def _read_manifest(path: Path) -> dict:
    file = path / FILES.manifest
    if not file.is_file():
        raise StoreError(f"{file}: not found (is {path} a tokenizer store version folder?)")
    try:
        manifest = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise StoreError(f"{file}: not valid JSON ({e})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"{file}: format version {manifest.get('format_version')!r}, "
            f"this genrec reads {FORMAT_VERSION}"
        )
    return manifest


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
