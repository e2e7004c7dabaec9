"""Token layout of the decoder: `n_special` rows first (four special tokens for a decoder of our
own; most of a pretrained LM's native vocabulary, its own specials first, see
`genrec.model.pretrained`), then one block of `codebook_size` tokens per SID level, so level
l's token t is `n_special + l * codebook_size + t`. Keeping each level
in its own contiguous block lets a decode step slice exactly the tokens it may emit. User SCID
tokens (Align3GR's prompt prefix), when used, get blocks of their own after the item levels, so
item token ids do not depend on whether a model reads user SCIDs."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SIDVocab:
    sid_depth: int = 4  # tokens per item (3 semantic levels + the collision level)
    codebook_size: int = 256  # tokens per level
    pad: int = 0
    bos: int = 1
    eos: int = 2  # never emitted by constrained decoding: every SID has exactly sid_depth tokens
    sep: int = 3
    n_special: int = 4
    user_levels: int = 0  # user SCID tokens in the prompt (0: none)

    @property
    def size(self) -> int:
        return self.n_special + (self.sid_depth + self.user_levels) * self.codebook_size

    def level_offset(self, level: int) -> int:
        return self.n_special + level * self.codebook_size

    def sid_tokens(self, sids: torch.Tensor) -> torch.Tensor:
        """SIDs (..., depth) of per-level codes → token ids (..., depth)."""
        offsets = torch.arange(self.sid_depth, device=sids.device) * self.codebook_size
        return sids + self.n_special + offsets

    def user_tokens(self, scids: torch.Tensor) -> torch.Tensor:
        """User SCIDs (..., user_levels) → token ids in the user blocks."""
        levels = torch.arange(self.user_levels, device=scids.device) + self.sid_depth
        return scids + self.n_special + levels * self.codebook_size

    def history_prompt(self, sids: torch.Tensor) -> list[int]:
        """A user's history as [BOS, SID tokens of each item, oldest first] (no merger)."""
        return [self.bos, *self.sid_tokens(sids).reshape(-1).tolist()]
