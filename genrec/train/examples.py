"""Training examples for next-item prediction: [BOS] + history SIDs → the next item's SID.

Every training interaction after a user's first is one example, with the ≤ 20 items before it
as history (the protocol's cap). Sequences are left-padded to one length so a batch is one
tensor; positions count real tokens only, as the engine counts them at decode time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genrec.data.split import Split
from genrec.model.vocab import SIDVocab

IGNORE = -100  # label of tokens that are not predicted


@dataclass
class Examples:
    input_ids: torch.Tensor  # (N, L) left-padded
    attention_mask: torch.Tensor  # (N, L) 1 on real tokens
    labels: torch.Tensor  # (N, L) target SID tokens, IGNORE elsewhere

    def __len__(self) -> int:
        return len(self.input_ids)

    def position_ids(self, index: torch.Tensor) -> torch.Tensor:
        return (self.attention_mask[index].cumsum(-1) - 1).clamp_min(0)


def next_item_examples(split: Split, sids: np.ndarray, vocab: SIDVocab) -> Examples:
    depth, H = vocab.sid_depth, split.max_history
    tokens = vocab.sid_tokens(torch.from_numpy(sids)).numpy()  # (n_items, depth)
    L = 1 + (H + 1) * depth
    rows = [(seq, t) for seq in split.train for t in range(1, len(seq))]
    ids = np.full((len(rows), L), vocab.pad, np.int64)
    labels = np.full((len(rows), L), IGNORE, np.int64)
    mask = np.zeros((len(rows), L), np.int64)
    for r, (seq, t) in enumerate(rows):
        items = seq[max(0, t - H) : t + 1]  # history + target
        body = np.concatenate([[vocab.bos], tokens[items].reshape(-1)])
        ids[r, L - len(body) :] = body
        mask[r, L - len(body) :] = 1
        labels[r, L - depth :] = tokens[seq[t]]
    return Examples(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels))
