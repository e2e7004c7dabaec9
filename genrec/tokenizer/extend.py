"""New items into a trained tokenizer without retraining it: their features built as the
store's were built, quantized by the store's own quantizer, placed in the trie beside an
existing item (`collision_copies`), and a new store version whose trie holds them.

A new item has no collaborative signal: nobody interacted with it. Where the store was built
from text and the collaborative signal, its collaborative block is the mean of its
`NEIGHBOURS` nearest existing items' by text, weighted by a softmax of their cosine similarity
at `TEMPERATURE` (a near-duplicate, such as a new edition of an item, takes after that item
almost alone), the cold-start guess the decoder's dense head gets too (`Neighbours`, there at
`genrec.pipelines.catalog.DENSE_TEMPERATURE`). A user who has their own item vectors (a
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
from genrec.tokenizer.store import TokenizerStore
from genrec.tokenizer.text import embed_texts, item_text
from genrec.tokenizer.trie import Trie

NEIGHBOURS = 10  # existing items a new item's missing signals are averaged from
TEMPERATURE = 0.05  # of the softmax over their cosine similarities
# The manifest key of the copied collision tokens, {copy: trained token}: each add reads the
# earlier adds' and writes them all.
COPIES_KEY = "collision_copies"


@dataclass(frozen=True)
class Neighbours:
    """Each new item's nearest existing items, nearest first."""

    index: torch.Tensor  # (M, k) existing item indices
    similarity: torch.Tensor  # (M, k) their cosine similarities

    @classmethod
    def nearest(cls, new: torch.Tensor, old: torch.Tensor) -> Neighbours:
        """By cosine: new (M, d), old (N, d); k = min(NEIGHBOURS, N)."""
        sims = F.normalize(new.float(), dim=-1) @ F.normalize(old.float(), dim=-1).T
        top = sims.topk(min(NEIGHBOURS, len(old)), dim=-1)
        return cls(top.indices.cpu(), top.values.cpu())

    def blend(self, rows: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
        """Existing items' rows (N, d) → the new items' (M, d): their neighbours', weighted by a
        softmax of the similarities at `temperature`."""
        weights = torch.softmax(self.similarity / temperature, -1).to(rows.dtype)
        return (rows[self.index] * weights[..., None]).sum(1)


@dataclass
class Extension:
    sids: np.ndarray  # (M, depth) the new items' SIDs
    neighbours: Neighbours
    # new collision token → the existing one whose decoder rows it takes (`collision_copies`)
    copies: dict[int, int]


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
    earlier = {int(k): v for k, v in store.manifest.get(COPIES_KEY, {}).items()}
    sids, copies = collision_copies(
        store.item_sids, codes, neighbours, store.codebook_size, earlier
    )
    return Extension(sids, neighbours, copies)


def collision_copies(
    sids: np.ndarray,
    codes: np.ndarray,
    neighbours: Neighbours,
    codebook_size: int = 256,
    earlier: dict[int, int] | None = None,
) -> tuple[np.ndarray, dict[int, int]]:
    """SIDs for new items that the trained decoder ranks as it ranks existing ones: sids
    (N, L+1) existing, codes (M, L) the new items' → their sids (M, L+1) and {new collision
    token: the existing token whose decoder rows it gets}.

    Any SID path the decoder was not trained on gets a small share of its probability: under a
    known prefix it has learned which collision tokens follow (a prefix of one item puts nearly
    all its mass on that item's), and a prefix of unseen codes it has never generated. So a new
    item takes an existing item's path, with a collision token that copies that item's: the
    decoder then gives the two the same SID log-probability, and the dense head tells them
    apart. Every collision token in use gets one copy, from the tokens no item uses: the copies
    double the collision level's softmax mass almost evenly, so every existing item's
    log-probability drops by about log 2 and their order stays as it was (`copies` also maps the
    copies no new item took; `genrec.pipelines.catalog` writes all their rows).

    The existing item is the first of a new item's neighbours, nearest first, that shares its
    codes (the quantizer put it there), else the first of the others, whose token has a copy
    still free under its prefix; where none has, the first one's token gets another copy.
    Existing SIDs never change and all stay unique.

    `earlier` ({copy: trained token}, from the store's manifest) holds the copies earlier adds
    made. They are reused wherever they are still free under a prefix, and never copied
    themselves: copying every token in use on every add doubled the tokens in use each time, so
    a level with 4 trained tokens of 256 ran out at the seventh add."""
    earlier = earlier or {}

    def origin(token: int) -> int:  # the trained token whose rows `token` has
        return earlier.get(token, token)

    depth, rows = sids.shape[1] - 1, sids.tolist()
    used = set(np.unique(sids[:, -1]).tolist()) | set(earlier)
    trained = sorted(set(map(origin, used)))
    copies_of: dict[int, list[int]] = {token: [] for token in trained}  # → its copies
    for copy, token in sorted(earlier.items()):
        copies_of[token].append(copy)
    free = iter(sorted(set(range(codebook_size)) - used))  # rows never trained
    lacking = [token for token in trained if not copies_of[token]]
    if codebook_size - len(used) < len(lacking):
        raise GenrecError(
            f"the collision level has {codebook_size - len(used)} unused tokens, fewer than the "
            f"{len(lacking)} in use that new items' tokens copy: retrain with the new items"
        )
    for token in lacking:
        copies_of[token].append(next(free))
    taken = set(map(tuple, rows))
    out = np.empty((len(codes), depth + 1), np.int64)
    for n, (row, near) in enumerate(zip(codes.tolist(), neighbours.index.tolist(), strict=True)):
        order = sorted(near, key=lambda i: rows[i][:depth] != row)  # stable: nearest first
        options = (
            (*rows[i][:depth], copy) for i in order for copy in copies_of[origin(rows[i][-1])]
        )
        sid = next((o for o in options if o not in taken), None)
        if sid is None:
            copy = next(free, None)
            if copy is None:
                raise GenrecError(
                    f"all {codebook_size} collision tokens are in use: retrain with the new items"
                )
            copies_of[origin(rows[order[0]][-1])].append(copy)
            sid = (*rows[order[0]][:depth], copy)
        taken.add(sid)
        out[n] = sid
    return out, {copy: token for token, made in copies_of.items() for copy in made}


def extended_store(
    store: TokenizerStore, new_items: list[Item], ext: Extension, extended: Dataset
) -> TokenizerStore:
    """`store` with the new items appended (existing indices and SIDs unchanged) and the
    copied collision tokens recorded, for the extended dataset `extended`; not yet saved."""
    all_sids = np.concatenate([store.item_sids, ext.sids])
    manifest = {k: v for k, v in store.manifest.items() if k not in ("files", "version")}
    manifest |= {
        "dataset_fingerprint": extended.fingerprint(),
        "extended_from": f"{store.manifest['dataset']}/{store.manifest['version']}",
        "added_items": len(new_items),
        COPIES_KEY: {str(copy): token for copy, token in sorted(ext.copies.items())},
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
