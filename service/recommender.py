"""One page of recommendations: page-chain state and history from Redis, one decoder call with
the chain's earlier items excluded, item ids and titles from the catalogue. Falls back to the
most popular unseen items for users with nothing to decode from, or when the decoder fails."""

from __future__ import annotations

import logging

import numpy as np
from redis.exceptions import RedisError

from service.catalog import Catalog
from service.decoder import DecoderUnavailable, TritonDecoder
from service.history import Histories
from service.metrics import FALLBACKS, INVALID_IDS
from service.pages import Cursor, PageChains, StoredPage
from service.schemas import (
    DecodeMode,
    RecommendationPage,
    RecommendationRequest,
    RecommendedItem,
)
from service.settings import Settings

log = logging.getLogger("genrec.gateway")


class Recommender:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        histories: Histories,
        chains: PageChains,
        decoder: TritonDecoder,
    ):
        self.settings, self.catalog = settings, catalog
        self.histories, self.chains, self.decoder = histories, chains, decoder

    async def page(self, request: RecommendationRequest) -> RecommendationPage:
        user = request.user_id
        cursor = (
            self.chains.parse(request.page_token, user) if request.page_token else self.chains.new()
        )
        try:
            state = await self.chains.state(cursor, user)
            page = state.current or await self._decode(
                user, state.shown, request.page_size, request.mode == DecodeMode.slate
            )
            if state.current is None:
                page = await self.chains.store(cursor, user, page)
        except RedisError as e:  # no history, no chain: a popular page that ends the chain
            log.warning("redis unavailable, serving popularity: %s", e)
            page = self._popular([], request.page_size, "redis_unavailable")
            return self._response(cursor, user, [], page, request.page_size, more=False)
        return self._response(cursor, user, state.shown, page, request.page_size)

    async def _decode(self, user: str, shown: list[str], k: int, slate: bool) -> StoredPage:
        catalog = self.catalog
        recent = await self.histories.recent(user, self.settings.history_len)
        history = [i for i in map(catalog.item_index, recent) if i is not None]
        exclude = [i for i in map(catalog.item_index, shown) if i is not None]
        scid = catalog.user_scid(user)
        if not history and scid is None:
            return self._popular(exclude, k, "cold_user")
        try:
            decoded = await self.decoder.recommend(history, exclude, k, scid, slate)
        except DecoderUnavailable as e:
            log.warning("decoder unavailable, serving popularity: %s", e)
            return self._popular(exclude, k, "decoder_unavailable")
        if decoded.model_version != catalog.version:  # Triton moved to a newly exported version
            catalog = self.catalog = Catalog.load(self.settings.model_dir, decoded.model_version)
        items, scores = [], []
        for index, score in zip(decoded.items.tolist(), decoded.scores.tolist(), strict=True):
            if index == -1:  # the trie ran out of unexcluded items
                continue
            if not 0 <= index < len(catalog.item_ids):
                INVALID_IDS.inc()
                continue
            items.append(catalog.item_ids[index])
            scores.append(float(score))
        return StoredPage(items, scores, False, f"{self.settings.triton_model}:{catalog.version}")

    def _popular(self, exclude: list[int], k: int, reason: str) -> StoredPage:
        FALLBACKS.labels(reason).inc()
        popular = self.catalog.popular
        picked = popular[~np.isin(popular, exclude)][:k].tolist()
        return StoredPage(
            [self.catalog.item_ids[i] for i in picked],
            [None] * len(picked),
            True,
            f"popularity:{self.catalog.version}",
        )

    def _response(
        self,
        cursor: Cursor,
        user: str,
        shown: list[str],
        page: StoredPage,
        page_size: int,
        more: bool = True,
    ) -> RecommendationPage:
        catalog = self.catalog
        items = []
        for offset, (item_id, score) in enumerate(zip(page.items, page.scores, strict=True)):
            items.append(
                RecommendedItem(
                    item_id=item_id,
                    score=score,
                    rank=len(shown) + offset + 1,
                    title=catalog.title(item_id),
                )
            )
        more = more and len(page.items) == page_size and cursor.page < self.settings.max_pages
        next_token = (
            self.chains.token(Cursor(cursor.chain, cursor.page + 1), user) if more else None
        )
        return RecommendationPage(
            items=items,
            next_page_token=next_token,
            model_version=page.model_version,
            page=cursor.page,
            fallback=page.fallback,
        )
