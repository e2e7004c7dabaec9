"""Save → load is identical; anything truncated, corrupt or mismatched fails with a clear error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from genrec.data import load_dataset
from genrec.tokenizer.store import StoreError, TokenizerStore, latest


def _copy(path, tmp_path):
    target = tmp_path / "synthetic" / "v1"
    shutil.copytree(path, target)
    return target


def test_round_trip_identical(synthetic_store, tmp_path):
    store, path = synthetic_store
    again = TokenizerStore.load(path, load_dataset("synthetic").fingerprint())
    assert np.array_equal(again.item_sids, store.item_sids)
    assert np.array_equal(again.user_scids, store.user_scids)
    assert again.item_ids == store.item_ids and again.user_ids == store.user_ids
    for key in store.codebooks:
        assert torch.equal(again.codebooks[key], store.codebooks[key])
    for key, value in store.trie.arrays().items():
        assert torch.equal(again.trie.arrays()[key], value)
    # saving the loaded store again makes a new version with the same content
    resaved = again.save(tmp_path)
    assert resaved.name == "v1" and latest(tmp_path, "synthetic") == resaved
    assert np.array_equal(TokenizerStore.load(resaved).item_sids, store.item_sids)
    assert again.save(tmp_path).name == "v2"


def test_user_fallback(synthetic_store):
    store, _ = synthetic_store
    scid, fallback = store.user_scid(store.user_ids[3])
    assert not fallback and np.array_equal(scid, store.user_scids[3])
    scid, fallback = store.user_scid("someone-new")
    assert fallback and np.array_equal(scid, store.fallback_user_scid)
    assert scid.shape == (3,)


def test_truncated_file(synthetic_store, tmp_path):
    path = _copy(synthetic_store[1], tmp_path)
    data = (path / "trie.safetensors").read_bytes()
    (path / "trie.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match=r"trie\.safetensors: corrupt or truncated"):
        TokenizerStore.load(path)


def test_missing_file(synthetic_store, tmp_path):
    path = _copy(synthetic_store[1], tmp_path)
    (path / "item_sids.safetensors").unlink()
    with pytest.raises(StoreError, match=r"item_sids\.safetensors: missing"):
        TokenizerStore.load(path)


def test_fingerprint_mismatch(synthetic_store):
    with pytest.raises(StoreError, match="another version of dataset 'synthetic'"):
        TokenizerStore.load(synthetic_store[1], fingerprint="0" * 32)


def test_format_version_and_manifest(synthetic_store, tmp_path):
    path = _copy(synthetic_store[1], tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(StoreError, match="format version 99, this genrec reads 1"):
        TokenizerStore.load(path)
    (path / "manifest.json").write_text(json.dumps({**manifest, "n_items": 5}))
    with pytest.raises(
        StoreError, match=r"item_sids has shape \(2000, 4\), manifest says \(5, 4\)"
    ):
        TokenizerStore.load(path)
    (path / "manifest.json").write_text("{")
    with pytest.raises(StoreError, match="not valid JSON"):
        TokenizerStore.load(path)
    with pytest.raises(StoreError, match="no tokenizer store"):
        latest(tmp_path, "beauty")
