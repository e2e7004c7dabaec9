"""Tokenizer report rows: code quality (collisions, utilization, perplexity), reconstruction,
time, and how long the saved store takes to load."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genrec.bench.report import write_merged
from genrec.device import describe_hardware
from genrec.tokenizer.pipeline import variant_name
from genrec.tokenizer.store import TokenizerStore

KEY = ("dataset", "method", "signals", "variant")
COLUMNS = (
    *KEY, "collision_rate", "max_items_per_code",
    "utilization_l1", "utilization_l2", "utilization_l3",
    "perplexity_l1", "perplexity_l2", "perplexity_l3",
    "recon_mse", "seconds", "bloger_seconds", "conflict_share", "load_seconds", "command",
)  # fmt: skip


def tokenizer_row(store: TokenizerStore, path: Path, device: torch.device, command: str) -> dict:
    start = time.perf_counter()
    TokenizerStore.load(path, store.manifest["dataset_fingerprint"])
    load_seconds = time.perf_counter() - start
    m = store.manifest
    return {
        "dataset": m["dataset"],
        "method": m["method"],
        "signals": "+".join(m["signals"]),
        "variant": variant_name(m["config"]),
        **m["metrics"],
        "load_seconds": round(load_seconds, 3),
        "store": str(path),
        "hardware": describe_hardware(device),
        "command": command,
    }


def write_tokenizer_report(rows: list[dict], json_path: Path) -> None:
    header = (
        "# Semantic-ID tokenizer\n\ncollision_rate: share of items whose 3-level code is "
        "shared; utilization / perplexity per level over 256 codes. BLOGER rows: "
        "`bloger_seconds` is the bi-level phase's share of `seconds` (the extra time over the "
        "RQ-VAE it starts from); `conflict_share` the share of tokenizer updates whose two "
        "gradients conflicted.\n\n"
    )
    write_merged(json_path, rows, KEY, header, COLUMNS)
