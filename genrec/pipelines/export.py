"""`run_export`: a trained checkpoint → the next version of a Triton model (`genrec.export`),
with the catalogue of the dataset it was trained on."""

from __future__ import annotations

from pathlib import Path


def run_export(
    checkpoint: Path,
    repo: Path = Path("model_repo"),
    name: str = "genrec",
    store: Path | None = None,
    data_dir: Path | None = None,
) -> Path:
    """→ the version folder written; `store` overrides the store path the checkpoint recorded
    (e.g. when it was trained on another machine)."""
    from genrec.data import load_recorded
    from genrec.export import export
    from genrec.model.checkpoint import read_meta

    dataset = load_recorded(read_meta(checkpoint), data_dir)
    return export(checkpoint, repo, dataset, name, store)
