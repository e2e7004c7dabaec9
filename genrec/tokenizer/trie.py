"""The semantic-ID trie compiled into flat arrays a GPU can index (after YouTube's STATIC).

Nodes are numbered per depth. The first `dense_levels` depths keep a dense transition table
(n_nodes, K) → child id or -1, so the allowed-token mask is one gather. Deeper, sparser depths
keep CSR child lists (indptr, token, child); a mask is one padded gather plus a scatter.
Children of the last depth are item indices. No Python loop runs per decode step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Trie:
    codebook_size: int
    depth: int  # SID length
    dense: list[torch.Tensor]  # per dense depth d: (n_nodes_d, K) int32 child or -1
    indptr: list[torch.Tensor]  # per CSR depth: (n_nodes_d + 1,) int64
    token: list[torch.Tensor]  # per CSR depth: (n_edges_d,) int64, sorted within a node
    child: list[torch.Tensor]  # per CSR depth: (n_edges_d,) int64
    max_degree: list[int]  # per CSR depth

    @property
    def dense_levels(self) -> int:
        return len(self.dense)

    @classmethod
    def build(cls, sids: np.ndarray, codebook_size: int = 256, dense_levels: int = 2) -> Trie:
        """sids (N, depth) unique rows → trie whose leaves are the row indices."""
        n, depth = sids.shape
        dense_levels = min(dense_levels, depth)
        nodes = np.zeros(n, np.int64)  # node of every item at the current depth
        dense, indptr, token, child, max_degree = [], [], [], [], []
        for d in range(depth):
            n_nodes = int(nodes.max()) + 1 if n else 1
            edge_key = nodes * codebook_size + sids[:, d]
            keys, first = np.unique(edge_key, return_index=True)
            if d == depth - 1:
                if len(keys) != n:
                    raise ValueError("SIDs are not unique: two items share a full path")
                targets = np.arange(n)[first]  # leaves: item indices
                next_nodes = None
            else:
                targets = np.arange(len(keys))  # child node ids at depth d+1
                next_nodes = np.searchsorted(keys, edge_key)
            parent, tok = keys // codebook_size, keys % codebook_size
            if d < dense_levels:
                table = np.full((n_nodes, codebook_size), -1, np.int32)
                table[parent, tok] = targets
                dense.append(torch.from_numpy(table))
            else:
                ptr = np.zeros(n_nodes + 1, np.int64)
                np.add.at(ptr, parent + 1, 1)
                ptr = np.cumsum(ptr)
                indptr.append(torch.from_numpy(ptr))
                token.append(torch.from_numpy(tok.astype(np.int64)))
                child.append(torch.from_numpy(targets.astype(np.int64)))
                max_degree.append(int(np.diff(ptr).max()) if n_nodes else 0)
            if next_nodes is not None:
                nodes = next_nodes
        return cls(codebook_size, depth, dense, indptr, token, child, max_degree)

    def to(self, device: torch.device | str) -> Trie:
        move = lambda ts: [t.to(device) for t in ts]  # noqa: E731
        return Trie(
            self.codebook_size,
            self.depth,
            move(self.dense),
            move(self.indptr),
            move(self.token),
            move(self.child),
            list(self.max_degree),
        )

    def children(self, level: int, nodes: torch.Tensor) -> torch.Tensor:
        """Child of every node (B,) under every token at depth `level` → (B, K) long, -1 where the
        token leaves the trie (item indices after the last depth). Dense depths: one gather;
        CSR depths: one padded gather of the child lists plus one scatter."""
        if level < self.dense_levels:
            return self.dense[level][nodes].long()
        c = level - self.dense_levels
        start, stop = self.indptr[c][nodes], self.indptr[c][nodes + 1]
        pos = start[:, None] + torch.arange(self.max_degree[c], device=nodes.device)[None]
        valid = pos < stop[:, None]
        pos = pos.clamp(max=max(len(self.token[c]) - 1, 0))
        slot = torch.where(valid, self.token[c][pos], self.codebook_size)  # invalid → spare column
        out = torch.full(
            (len(nodes), self.codebook_size + 1), -1, dtype=torch.long, device=nodes.device
        )
        out.scatter_(1, slot, self.child[c][pos])
        return out[:, : self.codebook_size]

    def allowed(self, level: int, nodes: torch.Tensor) -> torch.Tensor:
        """Tokens that continue a valid SID from `nodes` (B,) at depth `level` → (B, K) bool."""
        return self.children(level, nodes) >= 0

    def advance(self, level: int, nodes: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Follow `tokens` (B,) from `nodes` (B,) → next node ids (item ids after the last
        depth), or -1 where the token leaves the trie."""
        if level < self.dense_levels:
            return self.dense[level][nodes, tokens].long()
        return self.children(level, nodes).gather(1, tokens[:, None])[:, 0]

    def arrays(self) -> dict[str, torch.Tensor]:
        out = {f"dense_{d}": t for d, t in enumerate(self.dense)}
        for c in range(len(self.indptr)):
            out |= {
                f"indptr_{c}": self.indptr[c],
                f"token_{c}": self.token[c],
                f"child_{c}": self.child[c],
            }
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, torch.Tensor], codebook_size: int, depth: int) -> Trie:
        n_dense = sum(k.startswith("dense_") for k in arrays)
        n_csr = depth - n_dense
        indptr = [arrays[f"indptr_{c}"] for c in range(n_csr)]
        return cls(
            codebook_size,
            depth,
            [arrays[f"dense_{d}"] for d in range(n_dense)],
            indptr,
            [arrays[f"token_{c}"] for c in range(n_csr)],
            [arrays[f"child_{c}"] for c in range(n_csr)],
            [int((p[1:] - p[:-1]).max()) if len(p) > 1 else 0 for p in indptr],
        )
