"""The catalogue of the model version Triton serves, read from its exported version folder:
item ids ↔ the decoder's item indices, titles, popular items, and user SCIDs. Plain JSON and
safetensors read with numpy: no torch in the gateway. The files' names are `genrec.contract`'s,
which `genrec export` and the tokenizer store write them by."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from genrec.contract import STORE_FILES, VERSION_FILES, store_label


class CatalogError(RuntimeError):
    """The model folder holds no exported version the gateway can read."""


@dataclass
class Catalog:
    version: str  # the version folder's name, as Triton reports it
    store_version: str  # `<dataset>/<version>` of the tokenizer store
    item_ids: list[str]
    titles: list[str | None]
    popular: np.ndarray  # item indices, most interacted first
    user_scid_prompt: bool  # the decoder reads user SCIDs
    _user_scids: np.ndarray
    _fallback_scid: np.ndarray
    _item_index: dict[str, int]
    _user_index: dict[str, int]

    @classmethod
    def load(cls, model_dir: Path, version: str | None = None) -> Catalog:
        """`version` = a version folder's name; default the highest one, as Triton's `latest`
        policy serves it."""
        versions = sorted(
            (p for p in model_dir.glob("[0-9]*") if p.name.isdigit()), key=lambda p: int(p.name)
        )
        if version is not None:
            versions = [p for p in versions if p.name == version]
        if not versions:
            raise CatalogError(f"{model_dir}: no exported version {version or ''} (genrec export)")
        folder = versions[-1]
        try:
            export = json.loads((folder / VERSION_FILES.export).read_text())
            store = folder / VERSION_FILES.tokenizer_store
            manifest = json.loads((store / STORE_FILES.manifest).read_text())
            item_ids = json.loads((store / STORE_FILES.items).read_text())
            user_ids = json.loads((store / STORE_FILES.users).read_text())
            scids = load_file(str(store / STORE_FILES.user_scids))
            extra = json.loads((folder / VERSION_FILES.catalog).read_text())
        except (OSError, ValueError, KeyError) as e:
            raise CatalogError(f"{folder}: unreadable export ({e})") from e
        return cls(
            version=folder.name,
            store_version=store_label(manifest),
            item_ids=item_ids,
            titles=extra["titles"],
            popular=np.asarray(extra["popular"], dtype=np.int64),
            user_scid_prompt=bool(export["prompt"]["user_scid"]),
            _user_scids=scids[STORE_FILES.scids_tensor],
            _fallback_scid=scids[STORE_FILES.fallback_tensor],
            _item_index={item: i for i, item in enumerate(item_ids)},
            _user_index={user: i for i, user in enumerate(user_ids)},
        )

    def item_index(self, item_id: str) -> int | None:
        return self._item_index.get(item_id)

    def knows_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def title(self, item_id: str) -> str | None:
        index = self._item_index.get(item_id)
        return None if index is None else self.titles[index]

    def example_users(self, n: int) -> list[str]:
        """The first `n` users of the store, for the page's picker."""
        return list(itertools.islice(self._user_index, n))

    def user_scid(self, user_id: str) -> np.ndarray | None:
        """The user's SCID for decoders that read one (the average user's for unseen users)."""
        if not self.user_scid_prompt:
            return None
        index = self._user_index.get(user_id)
        return self._fallback_scid if index is None else self._user_scids[index]
