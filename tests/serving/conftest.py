"""The serving stack for tests: a tiny decoder trained briefly on the small synthetic catalogue
(user-SCID prompt and token merger on, so every input path is used), exported into a copy of
`model_repo/`, served by real redis-server, tritonserver (CPU configuration) and gateway
processes on free loopback ports."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import torch
from redis import Redis

from genrec.data import leave_one_out
from genrec.export import export
from genrec.local_stack import running_stack
from genrec.model.checkpoint import save_checkpoint
from genrec.model.config import build_decoder
from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.train.distributed import World
from genrec.train.trainer import DecoderTrainConfig, train_decoder

REPO = Path(__file__).resolve().parents[2]


def build_exported(dataset, store, store_path: Path, root: Path) -> Path:
    """A model repository under `root` holding one exported version (the `genrec` model): a
    decoder with the token merger, user SCIDs and a dense head that adds its own candidates,
    trained briefly on `dataset`, so every serving test runs the whole decode path
    (exclusions included) through Triton."""
    vocab = SIDVocab(user_levels=store.user_scids.shape[1])
    decoder = SIDDecoder(
        build_decoder("tiny", vocab, seed=0),
        vocab,
        PromptConfig(user_scid=True, merge_to=2),
        store.item_sids,
        dense=DenseConfig(enabled=True, candidates=4),
    )
    cfg = replace(
        DecoderTrainConfig(), epochs=2, lr=3e-3, warmup_steps=20, eval_users=100,
        dense_weights=(1.0,),
    )  # fmt: skip
    split = leave_one_out(dataset)
    result = train_decoder(decoder, split, store, cfg, World(torch.device("cpu")), progress=False)
    ckpt = save_checkpoint(result.decoder, store, store_path, root / "ckpt", {"size": "tiny"})
    repo = root / "model_repo"
    template = REPO / "model_repo" / "genrec"  # configs + model.py, not local exports
    shutil.copytree(template, repo / "genrec", ignore=shutil.ignore_patterns("[0-9]*"))
    export(ckpt, repo, dataset)
    return repo


@pytest.fixture(scope="session")
def exported(small_synthetic, small_store, tmp_path_factory) -> Path:
    """`build_exported` on the small synthetic catalogue."""
    store, store_path = small_store
    return build_exported(small_synthetic, store, store_path, tmp_path_factory.mktemp("serving"))


API_KEY = "test-api-key-of-the-suite"
# Small breaker pause and rate limit, so fault tests see both act within seconds.
GATEWAY = {
    "GENREC_API_KEY": API_KEY,
    "GENREC_BREAKER_RESET_S": "1",
    "GENREC_RATE_LIMIT_RPS": "100",
    "GENREC_RATE_LIMIT_BURST": "200",
}


@pytest.fixture(scope="session")
def stack(exported, small_synthetic, tmp_path_factory):
    work = tmp_path_factory.mktemp("stack")
    with running_stack(exported, work, small_synthetic, gateway_env=GATEWAY) as stack:
        yield stack


@pytest.fixture(scope="module")
def client(stack):
    """The test stack's gateway, with the write key."""
    with httpx.Client(base_url=stack.url, timeout=30, headers={"X-API-Key": API_KEY}) as c:
        yield c


@pytest.fixture(scope="module")
def redis(stack):
    return Redis.from_url(stack.redis_url)


def gateway(stack, tmp_path, **env: str):
    """A second gateway process on the stack's Redis and Triton, with settings `env` (limits
    the session's gateway must not have): a context manager → (port, pid)."""
    return stack.another_gateway(env, tmp_path)
