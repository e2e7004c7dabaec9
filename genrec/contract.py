"""The contract between the gateway (`service/`) and the model Triton serves
(`model_repo/genrec/model.py` over `genrec.serving`), owned here and nowhere else: the tensors
of the model's signature, the order of the STATS vector, the history cap, the names of the
files of an exported version folder that both sides read, and the key that pins a tokenizer
store.

The two sides run in different processes and images, so nothing but these names ties them:
both import them instead of spelling them, and tests/serving/test_contract.py checks the Triton
configurations (`model_repo/genrec/**.pbtxt`, which Triton reads and Python cannot import)
against them. Torch-free and importing nothing else from genrec (`make lint` holds it to
that), so the gateway's image can copy this one file beside `service/` (Dockerfile).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

_TRITON_DATATYPES = {
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.float32): "FP32",
    np.dtype(np.bool_): "BOOL",
}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of the model's signature: a batch dimension (one row per page; the gateway
    sends the pages it has waiting in one request, and Triton's dynamic batcher stacks
    requests), then the values, -1-padded to the request's longest row."""

    name: str
    dtype: np.dtype
    optional: bool = False  # an input the model accepts absent (the default it then uses)

    @property
    def datatype(self) -> str:
        """Triton's name of the dtype (`INT64`), as its clients name it; a model configuration
        writes it `TYPE_INT64`."""
        return _TRITON_DATATYPES[self.dtype]


# Inputs. Item indices are positions in the version's tokenizer store (`STORE_FILES.items`).
HISTORY = TensorSpec("HISTORY", np.dtype(np.int64))  # the user's items, oldest first; -1 = pad
EXCLUDE = TensorSpec("EXCLUDE", np.dtype(np.int64), optional=True)  # never return these; -1 = pad
K = TensorSpec("K", np.dtype(np.int32))  # items wanted, 1..beam
# Absent, or a row of -1: the average user's.
USER_SCID = TensorSpec("USER_SCID", np.dtype(np.int64), optional=True)
SLATE = TensorSpec("SLATE", np.dtype(np.bool_), optional=True)  # a generated page, not the top K
INPUTS = (HISTORY, EXCLUDE, K, USER_SCID, SLATE)

# Outputs, all three in every response.
ITEMS = TensorSpec("ITEMS", np.dtype(np.int64))  # (K,) item indices, best first; -1 = none left
SCORES = TensorSpec("SCORES", np.dtype(np.float32))  # (K,) the items' scores; -inf after -1s
STATS = TensorSpec("STATS", np.dtype(np.int64))  # the fields of `Stats`, in their order
OUTPUTS = (ITEMS, SCORES, STATS)


@dataclass(frozen=True)
class Stats:
    """The STATS output: how a request's dynamic batch was served, for the gateway's metrics.
    The vector holds these fields in this order, so the model packs and the gateway unpacks it
    here rather than each indexing it by position."""

    prompt_tokens: int  # the request's prompt positions after the token merger
    prompt_us: int  # history → prompt embeddings, for the whole batch
    decode_us: int  # constrained beam search (or slate generation), for the whole batch
    batch: int  # pages (rows of all requests) in the batch

    @classmethod
    def size(cls) -> int:
        """The vector's length (the configurations' STATS dims)."""
        return len(fields(cls))

    @staticmethod
    def pack(rows: list[Stats]) -> np.ndarray:
        """(len(rows), size()): a multi-row request's STATS. Each row's fields in declaration
        order (`vars` keeps it): `dataclasses.astuple` deep-copies every field, ~15 µs a row,
        which at a 90-page batch was a millisecond of the model's Python."""
        values = [tuple(vars(r).values()) for r in rows]
        return np.array(values, STATS.dtype).reshape(len(rows), Stats.size())

    @classmethod
    def from_array(cls, values: np.ndarray) -> Stats:
        return cls(*(int(v) for v in values))


MAX_HISTORY = 20
"""Items of a user's history the model reads, the most recent ones: the evaluation protocol's
cap (`genrec.data.split`, what models are trained and measured with), so the gateway sends at
most this many and the served model keeps at most this many."""

STORE_PIN = "store_version"
"""The key under which a version's `export.json` records the `store_label` of the tokenizer
store it holds, and under which a model configuration's parameters may pin one (a deployment
that must never change catalogue refuses versions exported on another store)."""


def store_label(manifest: dict) -> str:
    """`<dataset>/<version>` of a tokenizer store, from its manifest: how a version records and
    a configuration pins the store, and how the gateway names the store it serves."""
    return f"{manifest['dataset']}/{manifest['version']}"


@dataclass(frozen=True)
class VersionFiles:
    """The names inside an exported version folder `<repo>/<model>/<N>/` (`genrec export`).
    The folder is self-contained: Triton loads its `model.py`, the served model its decoder and
    store, the gateway its catalogue and the same store, so both sides read one copy."""

    decoder: str = "decoder"  # the checkpoint (`CheckpointFiles`)
    tokenizer_store: str = "tokenizer_store"  # the store version it was trained on
    catalog: str = "catalog.json"  # titles and popular items, for the gateway
    export: str = "export.json"  # where it came from, and the store it holds (`STORE_PIN`)
    model: str = "model.py"  # Triton's entry point, copied from the model's folder


@dataclass(frozen=True)
class StoreFiles:
    """The files of a tokenizer store version, and the tensors in them: the store writes them,
    the served model loads them, and the gateway reads ids and user SCIDs from them by name
    (with numpy, not the store's torch loader)."""

    manifest: str = "manifest.json"  # dataset, version, and the sha256 of every other file
    item_sids: str = "item_sids.safetensors"
    user_scids: str = "user_scids.safetensors"
    codebooks: str = "codebooks.safetensors"
    trie: str = "trie.safetensors"
    weights: str = "weights.safetensors"  # the trained quantizer, when there is one
    items: str = "items.json"  # item ids, in index order
    users: str = "users.json"  # user ids, in index order
    sids_tensor: str = "sids"  # in item_sids: (n_items, depth)
    scids_tensor: str = "scids"  # in user_scids: (n_users, levels)
    fallback_tensor: str = "fallback"  # in user_scids: (levels,), the average user's SCID


@dataclass(frozen=True)
class CheckpointFiles:
    """The genrec files of a decoder checkpoint beside Hugging Face's own (`save_pretrained`):
    what the served model reads from a version's `decoder/`."""

    meta: str = "genrec.json"  # prompt layout, dense head, and the store it was trained on
    merger: str = "merger.safetensors"  # the token merger's weights, when it has one
    item_head: str = "item_head.safetensors"  # the dense head's item embeddings, when it has one


VERSION_FILES = VersionFiles()
STORE_FILES = StoreFiles()
CHECKPOINT_FILES = CheckpointFiles()
