"""The SASRec artifact the tokenizer reuses as its collaborative signal.

`<dir>/embeddings.safetensors` holds `item` (n_items, d) and `user` (n_users, d) tensors in the
dataset's item and user order; user vectors encode the test-time history (all but the last item,
last 20), i.e. what is known when the next item is predicted. `<dir>/model.safetensors` and
`<dir>/meta.json` (config, dataset, test metrics) allow reloading the model itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from genrec.atomic import locked
from genrec.baselines.sasrec import SASRec, SASRecConfig
from genrec.baselines.sasrec_trainer import TrainConfig, train_sasrec
from genrec.data.schema import Dataset
from genrec.data.split import Split
from genrec.device import reproducible
from genrec.errors import GenrecError
from genrec.eval import evaluate_scorer


@torch.no_grad()
def save_sasrec(out: Path, model: SASRec, dataset: Dataset, metrics: dict[str, float]) -> None:
    model.eval()
    histories = [u.items[:-1] for u in dataset.users]
    users = torch.cat(
        [model.encode_histories(histories[i : i + 2048]) for i in range(0, len(histories), 2048)]
    )
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "item": model.item_embeddings().detach().cpu().contiguous(),
            "user": users.cpu().contiguous(),
        },
        str(out / "embeddings.safetensors"),
    )
    save_file(
        {k: v.cpu().contiguous() for k, v in model.state_dict().items()},
        str(out / "model.safetensors"),
    )
    meta = {
        "dataset": dataset.name,
        "n_users": dataset.n_users,
        "n_items": dataset.n_items,
        "config": model.cfg.__dict__,
        "test": metrics,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def load_embeddings(path: Path) -> dict[str, torch.Tensor]:
    """→ {"item": (n_items, d), "user": (n_users, d)}."""
    return load_file(str(path / "embeddings.safetensors"))


def load_sasrec(path: Path) -> SASRec:
    meta = json.loads((path / "meta.json").read_text())
    model = SASRec(SASRecConfig(**meta["config"]))
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    return model.eval()


def protocol_sasrec(
    dataset: Dataset,
    split: Split,
    artifacts: Path,
    device: torch.device,
    progress: bool,
    train: TrainConfig = TrainConfig(),
) -> Path:
    """→ `artifacts/<dataset>/sasrec`, the protocol's SASRec (history ≤ 20, the default
    configuration) that `genrec baselines` leaves there: the tokenizer's collaborative signal
    and the decoder's distillation teacher. Trained and saved here when absent; refused when it
    belongs to another version of the dataset."""
    path = artifacts / dataset.name / "sasrec"
    with locked(path):  # runs side by side wait for the one that trains it
        if not (path / "meta.json").is_file():  # written last
            with reproducible(device):  # the same seed, the same weights on the CPU
                result = train_sasrec(
                    split, SASRecConfig(n_items=dataset.n_items), train, device, progress
                )
            save_sasrec(path, result.model, dataset, evaluate_scorer(result.model, split.test))
    meta = json.loads((path / "meta.json").read_text())
    if (meta["n_items"], meta["n_users"]) != (dataset.n_items, dataset.n_users):
        raise GenrecError(
            f"{path}: a SASRec of another version of {dataset.name} ({meta['n_items']} items, "
            f"{meta['n_users']} users); delete it"
        )
    return path
