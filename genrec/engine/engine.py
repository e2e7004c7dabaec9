"""The decode engine: prompts in, top-K items (or a whole slate) out.

It pads requests into static (batch, prompt length, exclusion) buckets, embeds them, and runs
`beam_search` — or, in slate mode, `slate_search` (HiGR: plan, then all slots in parallel) — on
CUDA as a captured graph per bucket (replayed with no Python per step and no host sync until the
results are read), elsewhere eagerly, with the same code.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec

import numpy as np
import torch
from transformers import Qwen2ForCausalLM

from genrec.device import wait
from genrec.engine.beam_search import BeamResult, DenseRerank, beam_search, excluded_bitmap
from genrec.engine.runner import Qwen2Runner
from genrec.engine.slate_search import slate_search
from genrec.errors import GenrecError
from genrec.model.decoder import SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""The batch sizes CUDA graphs are captured at: a batch runs in the smallest that holds it,
padded. Every bucket costs a capture at start-up and the graph's memory; the gap between
buckets is decode work spent on padding (a 65-page batch decodes 128)."""


class EngineError(GenrecError):
    """The model, the tokenizer store and the vocabulary do not fit together."""


@dataclass(frozen=True)
class EngineConfig:
    """How the engine decodes: the one object evaluation, the benchmarks and serving build
    their engines from, so an offline figure and a served page come from the same settings."""

    beam: int = 20
    dtype: torch.dtype | None = None  # None: bfloat16 on CUDA, float32 elsewhere
    cuda_graphs: bool = True  # captured searches per bucket (CUDA only)
    fuse: bool | None = None  # Inductor-fused kernels; None: on CUDA (Triton kernels)
    beam_kernel: bool | None = None  # beam steps in the Triton attention kernel; None: on CUDA
    prompt_multiple: int = 16  # prompt lengths round up to this (fewer graph buckets)
    slate_beam: int = 4  # candidates per slot in slate mode
    slate_cap: int | None = None  # most slots per first SID code in a slate [slate_beam]
    batch_buckets: tuple[int, ...] = BATCH_BUCKETS  # captured batch sizes (with CUDA graphs)

    @classmethod
    def served(cls, beam: int = 50, batch_buckets: tuple[int, ...] = BATCH_BUCKETS) -> EngineConfig:
        """What the Triton model runs: bf16, CUDA graphs and fused kernels on a GPU."""
        return cls(beam=beam, batch_buckets=batch_buckets)

    @classmethod
    def reference(cls, beam: int = 20) -> EngineConfig:
        """float32 and eager everywhere: the reference the served figures are checked against."""
        return cls(beam=beam, dtype=torch.float32, cuda_graphs=False, fuse=False, beam_kernel=False)


@dataclass
class Recommendations:
    items: torch.Tensor  # (B, k) item indices, best first; -1 where fewer than k exist
    scores: torch.Tensor  # (B, k) summed SID log-probabilities (+ weight x user·item with a
    # dense head); -inf where no item
    sids: torch.Tensor  # (B, k, depth)


def bucket(n: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds n (the largest, if none does)."""
    return next((b for b in buckets if b >= n), buckets[-1])


def _round_up(n: int, multiple: int) -> int:
    return max(multiple, -(-n // multiple) * multiple)


class _Graph:
    """One captured beam search for a fixed (batch, prompt length, exclusions) shape.

    Capture and replay run with the inputs' GPU as the current device: CUDA graphs use the
    current device's streams, and the engine may sit on another GPU than the process's current
    one (Triton gives each model instance its own, e.g. `cuda:1`)."""

    def __init__(
        self, run, embeds: torch.Tensor, valid: torch.Tensor, excluded: torch.Tensor | None
    ):
        self.embeds, self.valid, self.excluded = embeds, valid, excluded
        with torch.cuda.device(embeds.device):
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):  # warm up allocator and kernels outside the capture
                    run(embeds, valid, excluded)
            torch.cuda.current_stream().wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out: BeamResult = run(embeds, valid, excluded)

    def __call__(self, embeds, valid, excluded) -> BeamResult:
        with torch.cuda.device(self.embeds.device):
            self.embeds.copy_(embeds)
            self.valid.copy_(valid)
            if self.excluded is not None:
                self.excluded.copy_(excluded)
            self.graph.replay()
        return self.out


class DecodeEngine:
    def __init__(
        self,
        model: Qwen2ForCausalLM,
        store: TokenizerStore,
        vocab: SIDVocab,
        device: torch.device | str = "cpu",
        config: EngineConfig = EngineConfig(),
        dense: torch.Tensor | None = None,
        dense_candidates: int = 0,
    ):
        """dense (n_items, C): a dense head's weighted item embeddings (`SIDDecoder.
        decode_dense`), which rerank each beam search's final candidates (not slates);
        dense_candidates: how many of the dense head's own top items join them (`DenseRerank`)."""
        self.device, self.config = torch.device(device), config
        self.vocab, self.beam, self.prompt_multiple = vocab, config.beam, config.prompt_multiple
        self.slate_beam = config.slate_beam
        self.slate_cap = config.slate_cap or config.slate_beam
        self._check(model, store, vocab, config.beam)
        cuda = self.device.type == "cuda"
        dtype = config.dtype or (torch.bfloat16 if cuda else torch.float32)
        fuse = cuda if config.fuse is None else config.fuse
        kernel = cuda and find_spec("triton") is not None  # CUDA builds of torch bring Triton
        kernel = kernel if config.beam_kernel is None else config.beam_kernel
        self.runner = Qwen2Runner(model, dtype, self.device, fuse=fuse, beam_kernel=kernel)
        self.trie = store.trie.to(self.device)
        self.n_items = len(store.item_ids)
        self.first_codes = torch.from_numpy(store.item_sids[:, 0].astype(np.int64)).to(self.device)
        if dense is not None and dense.shape != (self.n_items, model.config.hidden_size):
            raise EngineError(
                f"dense item embeddings of shape {tuple(dense.shape)}; the catalogue and model "
                f"need ({self.n_items}, {model.config.hidden_size})"
            )
        self.dense = None
        if dense is not None:
            codes = torch.from_numpy(store.item_sids.astype(np.int64)).to(self.device)
            self.dense = DenseRerank(dense.to(self.device, torch.float32), codes, dense_candidates)
        self.use_graphs = config.cuda_graphs and cuda
        self._graphs: dict[tuple, _Graph] = {}  # (*input shape, excluded, padded, slots, cap)

    @staticmethod
    def _check(model: Qwen2ForCausalLM, store: TokenizerStore, vocab: SIDVocab, beam: int) -> None:
        m = store.manifest
        store_shape = (m["sid_depth"], m["codebook_size"])
        if store_shape != (vocab.sid_depth, vocab.codebook_size):
            raise EngineError(
                f"tokenizer store {m.get('dataset')}/{m.get('version')}: SIDs of {store_shape[0]} "
                f"levels x {store_shape[1]} codes, the vocabulary has "
                f"{vocab.sid_depth} x {vocab.codebook_size}"
            )
        if model.config.vocab_size != vocab.size:
            raise EngineError(
                f"model vocabulary has {model.config.vocab_size} tokens, the SID "
                f"vocabulary {vocab.size}: this checkpoint was not built for this store"
            )
        if not 1 <= beam <= vocab.codebook_size:
            raise EngineError(f"beam width {beam} must be in 1..{vocab.codebook_size}")

    def _search(self, inputs, valid, excluded, padded: bool, slots: int) -> BeamResult:
        """inputs: token ids (B, P) or embeddings (B, P, C); ids are embedded inside the graph.
        slots > 0: a slate of that many items, after a [SEP] appended to every prompt."""
        embeds = self.runner.embed_tokens(inputs) if inputs.dim() == 2 else inputs
        if not slots:
            return beam_search(
                self.runner, self.trie, self.vocab, embeds, valid, self.beam, excluded, padded,
                self.dense,
            )  # fmt: skip
        sep = torch.full_like(valid[:, :1], self.vocab.sep, dtype=torch.long)
        embeds = torch.cat([embeds, self.runner.embed_tokens(sep)], 1)
        valid = torch.cat([valid, torch.ones_like(valid[:, :1])], 1)
        return slate_search(
            self.runner, self.trie, self.vocab, self.first_codes, embeds, valid, slots,
            self.slate_beam, excluded, padded, self.slate_cap,
        )  # fmt: skip

    def _run(
        self, inputs: torch.Tensor, valid: torch.Tensor, excluded: torch.Tensor | None,
        padded: bool, slots: int,
    ) -> BeamResult:  # fmt: skip
        if not self.use_graphs:
            return self._search(inputs, valid, excluded, padded, slots)
        key = (*inputs.shape, excluded is not None, padded, slots, self.slate_cap)
        if key not in self._graphs:
            self._graphs[key] = _Graph(
                functools.partial(self._search, padded=padded, slots=slots),
                inputs.clone(),
                valid.clone(),
                None if excluded is None else excluded.clone(),
            )
        return self._graphs[key](inputs, valid, excluded)

    @torch.no_grad()
    def recommend(
        self,
        prompts: Sequence[Sequence[int]] | np.ndarray,
        k: int = 10,
        exclude: Sequence[Sequence[int]] | None = None,
        slate: bool = False,
    ) -> Recommendations:
        """prompts: token ids per request (any lengths; a (B, P) array when all are equal, as
        Triton delivers a batch, skips the packing); exclude: item ids per request that
        must not be returned (e.g. shown on earlier pages) → the k best items of each, or with
        `slate`, a generated page of k distinct items in page order."""
        lengths = np.fromiter((len(p) for p in prompts), dtype=np.int64, count=len(prompts))
        P = _round_up(int(lengths.max()), self.prompt_multiple)
        if (lengths == P).all():  # the common serving case: one array copy, no Python loop
            ids = np.asarray(prompts, dtype=np.int64)
        else:
            ids = np.full((len(prompts), P), self.vocab.pad, dtype=np.int64)
            for row, prompt in enumerate(prompts):
                ids[row, P - len(prompt) :] = prompt
        valid = np.arange(P)[None] >= (P - lengths)[:, None]
        return self._recommend(torch.from_numpy(ids), torch.from_numpy(valid), k, exclude, slate)

    @torch.no_grad()
    def recommend_embeds(
        self,
        embeds: torch.Tensor,
        valid: torch.Tensor,
        k: int = 10,
        exclude: Sequence[Sequence[int]] | None = None,
        slate: bool = False,
    ) -> Recommendations:
        """The same from prompt embeddings (B, P, C), e.g. a token merger's output, left-padded
        with `valid` (B, P) marking real positions."""
        return self._recommend(embeds.to(self.runner.dtype), valid, k, exclude, slate)

    def _recommend(
        self,
        inputs: torch.Tensor,
        valid: torch.Tensor,
        k: int,
        exclude: Sequence[Sequence[int]] | None,
        slate: bool,
    ) -> Recommendations:
        if k > self.beam:
            raise EngineError(f"k={k} exceeds the beam width {self.beam}")
        outs, buckets = [], self.config.batch_buckets
        for start in range(0, len(inputs), buckets[-1]):
            chunk = inputs[start : start + buckets[-1]].to(self.device)
            chunk_valid = valid[start : start + buckets[-1]]
            padded = not bool(chunk_valid.all())  # host-side for token prompts
            chunk_valid = chunk_valid.to(self.device)
            n = len(chunk)
            # Only a captured graph needs its batch size; eager, padding is work for nothing
            # (on the CPU a 5-page batch decoded 8).
            size = bucket(n, buckets) if self.use_graphs else n
            if size > n:  # fill the bucket with copies of the last request
                chunk = torch.cat([chunk, chunk[-1:].expand(size - n, *chunk.shape[1:])])
                chunk_valid = torch.cat([chunk_valid, chunk_valid[-1:].expand(size - n, -1)])
            excluded = None
            if exclude is not None:
                rows = list(exclude[start : start + n]) + [[]] * (size - n)
                width = _round_up(max((len(r) for r in rows), default=1), 16)
                ex = np.full((size, width), -1, dtype=np.int64)
                for row, items in enumerate(rows):
                    ex[row, : len(items)] = items  # arrays or lists, no per-item Python
                excluded = excluded_bitmap(torch.from_numpy(ex).to(self.device), self.n_items)
            out = self._run(chunk, chunk_valid, excluded, padded, k if slate else 0)
            # Copied out before the next chunk replays the same graph over its outputs: three
            # copies queued, one wait.
            parts = [
                t[:n, :k].to("cpu", non_blocking=True) for t in (out.items, out.scores, out.sids)
            ]
            wait(self.device)
            outs.append(parts)
        if len(outs) == 1:
            return Recommendations(*outs[0])
        return Recommendations(*(torch.cat(parts) for parts in zip(*outs, strict=True)))


def decoder_engine(
    decoder: SIDDecoder,
    store: TokenizerStore,
    device: torch.device | str,
    config: EngineConfig = EngineConfig.served(),
) -> DecodeEngine:
    """The engine for a trained decoder, its dense head included."""
    return DecodeEngine(
        decoder.lm, store, decoder.vocab, device, config, dense=decoder.decode_dense(),
        dense_candidates=decoder.dense.candidates,
    )  # fmt: skip
