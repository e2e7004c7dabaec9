"""Align3GR's bidirectional alignment tasks for multi-task SFT: each item's text → its SID, and
its SID → its text, so the SID tokens mean something in the language the pretrained LM already
speaks. Needs a decoder with text tokens (a pretrained LM's native vocabulary).

Rows are right-padded token ids with labels (-100 where nothing is predicted):
  text → SID:  [BOS] text [SEP] sid_1 .. sid_L          labels on the SID tokens
  SID → text:  [BOS] sid_1 .. sid_L [SEP] text [EOS]    labels on the text and [EOS]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from genrec.data.schema import Item
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.text import item_text

IGNORE = -100  # label of positions without a target (the Hugging Face convention)


@dataclass
class TextTasks:
    ids: torch.Tensor  # (N, L) token ids, right-padded
    labels: torch.Tensor  # (N, L), IGNORE where nothing is predicted
    mask: torch.Tensor  # (N, L) bool, real tokens

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: torch.Tensor) -> TextTasks:
        return TextTasks(self.ids[rows], self.labels[rows], self.mask[rows])


def item_text_tasks(
    items: Sequence[Item],
    item_tokens: torch.Tensor,
    encode: Callable[[str], list[int]],
    vocab: SIDVocab,
    max_text_tokens: int = 32,
) -> TextTasks:
    """items and their SID token ids (n_items, depth) → both tasks for every item with text.
    `encode` is the LM's text tokenizer; text tokens that fall on rows the SID blocks reuse
    are dropped, so no text token reads as a SID code."""
    rows: list[tuple[list[int], list[int]]] = []
    for item, sid in zip(items, item_tokens.tolist(), strict=True):
        text = [t for t in encode(item_text(item)) if t < vocab.n_special][:max_text_tokens]
        if not text:
            continue
        prompt = [vocab.bos, *text, vocab.sep]
        rows.append((prompt + sid, [IGNORE] * len(prompt) + sid))
        prompt = [vocab.bos, *sid, vocab.sep]
        rows.append((prompt + text + [vocab.eos], [IGNORE] * len(prompt) + text + [vocab.eos]))
    width = max((len(ids) for ids, _ in rows), default=1)
    ids = torch.full((len(rows), width), vocab.pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for row, (token_ids, targets) in enumerate(rows):
        ids[row, : len(token_ids)] = torch.tensor(token_ids)
        labels[row, : len(targets)] = torch.tensor(targets)
    lengths = torch.tensor([len(token_ids) for token_ids, _ in rows], dtype=torch.long)
    mask = torch.arange(width)[None] < lengths[:, None]
    return TextTasks(ids, labels, mask)
