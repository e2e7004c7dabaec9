"""New items into a trained tokenizer without retraining it: their features built as the
store's were built, quantized by the store's own quantizer, given collision tokens after every
existing SID of the same codes (`extend_collision_level`), and a new store version whose trie
holds them.

A new item has no collaborative signal: nobody interacted with it. Where the store was built
from text and the collaborative signal, its collaborative block is the mean of its
`NEIGHBOURS` nearest existing items' by text, weighted by a softmax of their cosine similarity
at `TEMPERATURE` (a near-duplicate, such as a new edition of an item, takes after that item
almost alone), the same cold-start guess the decoder's dense head gets
(`Neighbours`). A user who has their own item vectors (a
collaborative model of their own, image embeddings) passes them instead, in the collaborative
block's width; a store built from the collaborative signal alone needs them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genrec.baselines.artifacts import load_embeddings
from genrec.data.schema import Dataset, Item
from genrec.errors import GenrecError
from genrec.tokenizer.quantizer import ResidualQuantizer
from genrec.tokenizer.rqvae import RQVAE, RQVAEConfig
from genrec.tokenizer.sids import extend_collision_level
from genrec.tokenizer.store import TokenizerStore
from genrec.tokenizer.text import embed_texts, item_text
from genrec.tokenizer.trie import Trie

NEIGHBOURS = 10  # existing items a new item's missing signals are averaged from
TEMPERATURE = 0.05  # of the softmax over their cosine similarities


@dataclass(frozen=True)
class Neighbours:
    """Each new item's nearest existing items and their weights."""

    index: torch.Tensor  # (M, k) existing item indices
    weights: torch.Tensor  # (M, k) summing to 1 per row

    @classmethod
    def nearest(cls, new: torch.Tensor, old: torch.Tensor) -> Neighbours:
        """By cosine: new (M, d), old (N, d); k = min(NEIGHBOURS, N)."""
        sims = F.normalize(new.float(), dim=-1) @ F.normalize(old.float(), dim=-1).T
        top = sims.topk(min(NEIGHBOURS, len(old)), dim=-1)
        return cls(top.indices.cpu(), torch.softmax(top.values / TEMPERATURE, -1).cpu())

    def blend(self, rows: torch.Tensor) -> torch.Tensor:
        """Existing items' rows (N, d) → the new items' (M, d): their neighbours', weighted."""
        return (rows[self.index] * self.weights[..., None].to(rows.dtype)).sum(1)


@dataclass
class Extension:
    sids: np.ndarray  # (M, depth) the new items' SIDs
    neighbours: Neighbours


def _features(
    store: TokenizerStore,
    dataset: Dataset,
    new_items: list[Item],
    artifacts: Path,
    device: torch.device,
    embeddings: np.ndarray | None,
    progress: bool,
) -> tuple[torch.Tensor, Neighbours]:
    """The new items' feature rows, in the layout `genrec.tokenizer.signals.build_features`
    gave the existing ones, and their nearest existing items."""
    signals = store.manifest["signals"]
    blocks, neighbours = [], None
    if "text" in signals:
        if not any(i.has_text for i in new_items):
            raise GenrecError("the tokenizer reads item text, and the new items have none")
        cache = artifacts / "cache" / "text"
        old_text = embed_texts([item_text(i) for i in dataset.items], cache, device, progress)
        new_text = embed_texts([item_text(i) for i in new_items], cache, device, progress)
        blocks.append(new_text)
        neighbours = Neighbours.nearest(new_text, old_text)
    if "collab" in signals:
        path = artifacts / dataset.name / "sasrec"
        if not (path / "embeddings.safetensors").is_file():
            raise GenrecError(f"{path}: the SASRec the tokenizer was built from is missing")
        old_collab = F.normalize(load_embeddings(path)["item"].float(), dim=-1)
        if embeddings is not None:
            if embeddings.shape != (len(new_items), old_collab.shape[1]):
                raise GenrecError(
                    f"--embeddings has shape {embeddings.shape}; expected "
                    f"({len(new_items)}, {old_collab.shape[1]}): one row per new item"
                )
            collab = F.normalize(torch.from_numpy(embeddings).float(), dim=-1)
            if neighbours is None:
                neighbours = Neighbours.nearest(collab, old_collab)
        elif neighbours is not None:
            collab = F.normalize(neighbours.blend(old_collab), dim=-1)
        else:
            raise GenrecError(
                "the tokenizer was built from the collaborative signal alone: new items need "
                "--embeddings (a .npy of one row per item)"
            )
        blocks.append(collab)
    return torch.cat(blocks, 1), neighbours


def _codes(store: TokenizerStore, x: torch.Tensor, device: torch.device) -> np.ndarray:
    """The store's own quantizer on feature rows x (M, D) → codes (M, levels)."""
    m = store.manifest
    if m["method"] in ("rqvae", "bloger"):
        weights = {k[5:]: v for k, v in store.weights.items() if k.startswith("item.")}
        model = RQVAE(weights["encoder.0.weight"].shape[1], RQVAEConfig(**m["config"]["model"]))
        model.load_state_dict(weights)
        return model.to(device).encode(x.to(device)).cpu().numpy()
    books = store.codebooks["item"]  # (levels, K, d)
    quantizer = ResidualQuantizer(books.shape[0], books.shape[1], books.shape[2])
    quantizer.codebooks.data.copy_(books)
    with torch.no_grad():
        return quantizer.to(device).encode(x.to(device)).cpu().numpy()


def extend(
    store: TokenizerStore,
    dataset: Dataset,
    new_items: list[Item],
    artifacts: Path,
    device: torch.device,
    embeddings: np.ndarray | None = None,
    progress: bool = True,
) -> Extension:
    """SIDs for `new_items` beside `dataset`'s, which `store` was built on."""
    x, neighbours = _features(store, dataset, new_items, artifacts, device, embeddings, progress)
    codes = _codes(store, x, device)
    sids = extend_collision_level(store.item_sids, codes, store.codebook_size)
    return Extension(sids, neighbours)


def extended_store(
    store: TokenizerStore, new_items: list[Item], sids: np.ndarray, extended: Dataset
) -> TokenizerStore:
    """`store` with the new items appended (existing indices and SIDs unchanged), for the
    extended dataset `extended`; not yet saved."""
    all_sids = np.concatenate([store.item_sids, sids])
    manifest = {k: v for k, v in store.manifest.items() if k not in ("files", "version")}
    manifest |= {
        "dataset_fingerprint": extended.fingerprint(),
        "extended_from": f"{store.manifest['dataset']}/{store.manifest['version']}",
        "added_items": len(new_items),
    }
    if "source" in extended.meta:
        manifest["data_source"] = extended.meta["source"]
    dense_levels = store.manifest["config"].get("dense_levels", 2)
    return dataclasses.replace(
        store,
        manifest=manifest,
        item_ids=[*store.item_ids, *(i.id for i in new_items)],
        item_sids=all_sids,
        trie=Trie.build(all_sids, store.codebook_size, dense_levels),
        _user_index=None,
    )
