"""Artifacts appear whole or not at all: every folder the library writes (checkpoints, tokenizer
store versions, exported model versions) is built in a hidden sibling and renamed into place, so
a reader never sees half of one and a crash leaves nothing under the final name."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yields an empty hidden folder beside `final` to fill; renamed to `final` when the block
    ends, removed when it raises (Ctrl-C included)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
