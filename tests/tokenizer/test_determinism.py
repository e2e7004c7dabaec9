"""Same seed, same IDs: `genrec tokenize` run twice on the embedded default, each in its own
folder (so the text embeddings are computed twice, not read from one cache), writes stores
that are byte for byte the same, but for the wall-clock seconds its manifest records."""

from __future__ import annotations

import json
import subprocess
import sys

SHORT = ["--signals", "text", "--recon-epochs", "3", "--align-epochs", "2", "--no-progress"]


def _tokenize(cwd) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "genrec", "tokenize", "-d", "synthetic", "--device", "cpu", *SHORT],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]


def test_tokenize_twice_gives_the_same_store(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        _tokenize(folder)
    store_a, store_b = (f / "tokenizer_store" / "synthetic" / "v1" for f in (a, b))
    files = sorted(p.name for p in store_a.iterdir())
    assert files == sorted(p.name for p in store_b.iterdir()) and len(files) >= 7
    for name in files:
        if name == "manifest.json":
            continue
        assert (store_a / name).read_bytes() == (store_b / name).read_bytes(), name
    manifests = [json.loads((s / "manifest.json").read_text()) for s in (store_a, store_b)]
    for m in manifests:
        m["metrics"].pop("seconds")
    assert manifests[0] == manifests[1]
