"""The decoder being aligned, with its optimiser: what DPO and the policy-gradient methods share.

Alignment runs with dropout off (the decoder stays in eval mode while gradients flow), so the
policy, the rollout policy and the reference score a candidate identically before the first
update, and every ratio starts at exactly 1.
"""

from __future__ import annotations

import torch

from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore


class Policy:
    def __init__(
        self,
        decoder: SIDDecoder,
        store: TokenizerStore,
        device: torch.device,
        lr: float,
        seed: int = 0,
    ):
        self.decoder = decoder.to(device).eval()
        self.store, self.device = store, device
        self.opt = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=0.0)
        self.user_scids = (
            torch.from_numpy(store.user_scids).to(device) if decoder.prompt.user_scid else None
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def logprobs(
        self,
        users: torch.Tensor,
        history: torch.Tensor,
        items: torch.Tensor,
        model: SIDDecoder | None = None,
    ) -> torch.Tensor:
        """(B,) users, (B, H) histories, (B, k) candidate items → (B, k, depth) token log-probs
        under the policy (or under `model`, e.g. a frozen reference)."""
        model = model or self.decoder
        scids = None if self.user_scids is None else self.user_scids[users.to(self.device)]
        with self.autocast:
            return model.token_logprobs(history.to(self.device), items.to(self.device), scids)

    def step(self, loss: torch.Tensor) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.decoder.parameters(), 1.0)
        self.opt.step()
        return loss.item()

    def batches(self, n: int, size: int) -> list[torch.Tensor]:
        """Row indices 0..n-1, shuffled, in batches of `size`."""
        return list(torch.randperm(n, generator=self.generator).split(size)) if n else []
