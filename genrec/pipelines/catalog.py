"""`add_items`: new items into the served model without retraining: the latest exported
version → semantic IDs for the new items from the trained tokenizer (`genrec.tokenizer.extend`)
→ a new tokenizer-store version, a checkpoint whose dense head has rows for them, and the next
model version in the repository. Triton loads the new version when it polls the repository
and the gateway follows it onto the new catalogue (`service.rollout`); the old version serves
until then. Existing items keep their indices and SIDs, so every history in Redis stays valid.

A new item's SID is an existing item's path with a collision token no item used before, and
that token's decoder rows (input embedding and output row) are copies of the existing item's
collision token (`genrec.tokenizer.extend.collision_copies`): the decoder then gives the new
item the SID log-probability it gives that item. Only unused tokens' rows are written, so the
decoder reads every history as before; the copies' share of the full-vocabulary softmax at the
collision level lowers every existing item's log-probability there by about the same log 2.
A new item's dense-head row is the similarity-weighted mean of its nearest existing items'
rows (the tokenizer's neighbours), the cold-start guess its collaborative features get, at the
sharper `DENSE_TEMPERATURE`: it tells the new item from the one whose path it shares.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genrec.pipelines.config import STORE

if TYPE_CHECKING:
    from genrec.model.decoder import SIDDecoder

# Of the softmax over a new item's neighbours' similarities that weights their dense-head rows.
# A mean of several rows scores below each of them, so a flat one keeps new items out of pages:
# on Beauty (reports/README.md) 0.02 gave the new items' users a Recall@10 of 0.0425 against
# 0.0274 at the tokenizer's 0.05, with all users' the same (0.0903 and 0.0906).
DENSE_TEMPERATURE = 0.02


@dataclass
class CatalogOutcome:
    added: list[str]  # the new items' ids
    sids: np.ndarray  # (M, depth) their semantic IDs
    copies: dict[int, int]  # new collision token → the existing one whose rows it copies
    store: Path  # the new tokenizer-store version
    checkpoint: Path
    version: Path  # the new model version


def add_items(
    items_file: Path,
    repo: Path = Path("model_repo"),
    name: str = "genrec",
    store_root: Path = STORE,
    artifacts: Path = Path("artifacts"),
    checkpoints: Path = Path("checkpoints"),
    embeddings: Path | None = None,
    data_dir: Path | None = None,
    device: str = "auto",
    progress: bool = True,
) -> CatalogOutcome:
    """`items_file`: an items table (`item_id`, `title`, ...; any format `genrec.data.tables`
    reads) of ids the catalogue does not hold; `embeddings`: a `.npy` of one collaborative
    vector per new item, for stores built without text."""
    import torch

    from genrec.contract import VERSION_FILES
    from genrec.data.source import DataSource
    from genrec.device import resolve_device
    from genrec.errors import GenrecError
    from genrec.export import export
    from genrec.local_stack import latest_export
    from genrec.model.checkpoint import load_checkpoint, save_checkpoint
    from genrec.model.decoder import SIDDecoder
    from genrec.tokenizer.extend import extend, extended_store
    from genrec.tokenizer.store import TokenizerStore

    version, info = latest_export(repo, name)
    base = DataSource.from_record(info)
    dataset = base.load(data_dir)
    store = TokenizerStore.load(version / VERSION_FILES.tokenizer_store, dataset.fingerprint())
    files = [*(base.added.split(",") if base.added else []), str(items_file)]
    extended = dataclasses.replace(base, added=",".join(files)).load(data_dir)
    new_items = extended.items[dataset.n_items :]
    if not new_items:
        raise GenrecError(f"{items_file}: no items")
    vectors = None
    if embeddings is not None:
        try:
            vectors = np.load(embeddings)
        except (OSError, ValueError) as e:
            raise GenrecError(f"{embeddings}: not a .npy array ({e})") from None
    torch_device = resolve_device(device)
    ext = extend(store, dataset, new_items, artifacts, torch_device, vectors, progress)
    grown = extended_store(store, new_items, ext, extended)
    store_path = grown.save(store_root)

    decoder, old = load_checkpoint(version / VERSION_FILES.decoder, store)
    bigger = SIDDecoder(
        decoder.lm, decoder.vocab, decoder.prompt, grown.item_sids, dense=decoder.dense
    )
    bigger.merger = decoder.merger
    copy_collision_rows(bigger, ext.copies)
    if decoder.item_head is not None:
        rows = decoder.item_head.weight.detach()
        new_rows = ext.neighbours.blend(rows, DENSE_TEMPERATURE)
        bigger.item_head.weight.data.copy_(torch.cat([rows, new_rows]))
    # Named after the version it grew from and what it holds: a rerun never overwrites one.
    tag = grown.manifest["dataset_fingerprint"][:8]
    out = checkpoints / extended.name / f"catalog-{version.name}-plus{len(new_items)}-{tag}"
    checkpoint = save_checkpoint(
        bigger, grown, store_path, out,
        {"size": old.get("size", ""), "extended_from": str(version),
         "added_items": [i.id for i in new_items]},
    )  # fmt: skip
    new_version = export(checkpoint, repo, extended, name, store_path)
    return CatalogOutcome(
        [i.id for i in new_items], ext.sids, ext.copies, store_path, checkpoint, new_version
    )


def copy_collision_rows(decoder: SIDDecoder, copies: dict[int, int]) -> None:
    """In place: each new collision token's input-embedding and output rows ← those of the
    existing collision token it copies (`copies`: new → existing). With tied weights the two
    are one matrix, written twice alike."""
    import torch

    if not copies:
        return
    offset = decoder.vocab.level_offset(decoder.vocab.sid_depth - 1)
    new = torch.tensor(list(copies), dtype=torch.long) + offset
    old = torch.tensor(list(copies.values()), dtype=torch.long) + offset
    with torch.no_grad():
        for rows in (decoder.lm.get_input_embeddings().weight, decoder.lm.lm_head.weight):
            rows[new.to(rows.device)] = rows[old.to(rows.device)]
