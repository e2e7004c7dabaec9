"""The slate layout: HiGR's whole-page generation as one token sequence (seed 004).

A page of k items is generated in two stages after the prompt and a [SEP] token:
- the **plan**: k tokens, the first SID code of each slot in page order, decoded left to right
  (the list-level intent: which coarse regions of the catalogue the page covers, and how often);
- the **slots**: each slot then decodes the rest of its SID, attending to the prompt and the
  whole plan but not to the other slots, so all k slots decode in parallel (item level).

Slot j feeds its first code again and then its own generated codes, at positions laid out as if
the slots followed each other: the positions tell slots with the same first code apart.
Relative to the first position after [SEP], plan token i sits at i and slot j's fed token t at
k + j*T + t (T = sid_depth - 1 fed tokens per slot). Training (`SIDDecoder.slate_logprobs`) and
the engine (`genrec.engine.slate_search`) both read this class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SlateLayout:
    slots: int  # k: items per page
    fed: int  # T: tokens each slot feeds (its first code, then its generated codes but the last)

    def plan_positions(self, device: torch.device) -> torch.Tensor:
        """(k,) plan token i → position offset after [SEP]."""
        return torch.arange(self.slots, device=device)

    def slot_positions(self, device: torch.device) -> torch.Tensor:
        """(k, T) slot j's fed token t → position offset after [SEP]."""
        j = torch.arange(self.slots, device=device)[:, None]
        return self.slots + j * self.fed + torch.arange(self.fed, device=device)

    def slot_blocks(self, device: torch.device) -> torch.Tensor:
        """(k*T,) the slot each fed slot token belongs to (its attention block)."""
        return torch.arange(self.slots, device=device).repeat_interleave(self.fed)

    def positions(self, device: torch.device) -> torch.Tensor:
        """(1 + k + k*T,) offsets of the training sequence [SEP, plan, slots] from [SEP]'s."""
        after = torch.cat([self.plan_positions(device), self.slot_positions(device).flatten()])
        return torch.cat([torch.zeros(1, dtype=torch.long, device=device), 1 + after])

    def sources(self, device: torch.device) -> torch.Tensor:
        """(k, T + 1) index, in the training sequence [SEP, plan, slots], of the token whose
        output predicts slot j's SID code i: plan token j is predicted by the token before it
        ([SEP] for j = 0), slot code i ≥ 1 by the slot's fed token i - 1."""
        j = torch.arange(self.slots, device=device)[:, None]
        codes = 1 + self.slots + j * self.fed + torch.arange(self.fed, device=device)
        return torch.cat([j, codes], 1)
