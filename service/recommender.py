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
from service.metrics import FALLBACKS, FILTERED, INVALID_IDS
from service.pages import Cursor, ExpiredPageToken, PageChains, StoredPage
from service.schemas import (
    MAX_PAGE_SIZE,
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
        # One catalogue for the whole request, whatever the watcher swaps in meanwhile: indices
        # in and ids out always belong to the version the decoder is asked for.
        catalog = self.catalog
        user = request.user_id
        cursor = (
            self.chains.parse(request.page_token, user) if request.page_token else self.chains.new()
        )
        if cursor.page > self.settings.max_pages:  # whatever a (forged) token says
            raise ExpiredPageToken(f"a chain ends after {self.settings.max_pages} pages")
        try:
            state = await self.chains.state(cursor, user)
            page = state.current or await self._decode(
                catalog, user, state.shown, request.page_size, request.mode == DecodeMode.slate
            )
            if state.current is None and cursor.page > 1:  # page 1 travels in page 2's token
                page = await self.chains.store(cursor, user, page)
        except RedisError as e:  # no history, no chain: a popular page that ends the chain
            log.warning("redis unavailable, serving popularity: %s", e)
            page = self._popular(catalog, [], request.page_size, "redis_unavailable")
            return self._response(catalog, cursor, user, [], page, request.page_size, more=False)
        return self._response(catalog, cursor, user, state.shown, page, request.page_size)

    async def _decode(
        self, catalog: Catalog, user: str, shown: list[str], k: int, slate: bool
    ) -> StoredPage:
        recent = await self.histories.recent(user, self.settings.history_len)
        history = [i for i in map(catalog.item_index, recent) if i is not None]
        exclude = [i for i in map(catalog.item_index, shown) if i is not None]
        scid = catalog.user_scid(user)
        if not history and scid is None:
            return self._popular(catalog, exclude, k, "cold_user")
        # A margin over k, so a page stays full when items are filtered out below.
        want = min(k + self.settings.page_margin, MAX_PAGE_SIZE)
        try:
            decoded = await self.decoder.recommend(
                history, exclude, want, scid, slate, version=catalog.version
            )
        except DecoderUnavailable as e:
            log.warning("decoder unavailable, serving popularity: %s", e)
            return self._popular(catalog, exclude, k, "decoder_unavailable")
        items, scores, earlier = [], [], set(shown)
        for index, score in zip(decoded.items.tolist(), decoded.scores.tolist(), strict=True):
            if index == -1:  # the trie ran out of unexcluded items
                continue
            if not 0 <= index < len(catalog.item_ids):
                INVALID_IDS.inc()
                continue
            item = catalog.item_ids[index]
            if item in earlier or item in items:
                FILTERED.labels("shown" if item in earlier else "duplicate").inc()
                continue
            items.append(item)
            scores.append(float(score))
            if len(items) == k:
                break
        version = f"{self.settings.triton_model}:{catalog.version}"
        return StoredPage(items, scores, False, version, size=k)

    @staticmethod
    def _popular(catalog: Catalog, exclude: list[int], k: int, reason: str) -> StoredPage:
        FALLBACKS.labels(reason).inc()
        popular = catalog.popular
        picked = popular[~np.isin(popular, exclude)][:k].tolist()
        return StoredPage(
            [catalog.item_ids[i] for i in picked],
            [None] * len(picked),
            True,
            f"popularity:{catalog.version}",
            size=k,
        )

    def _response(
        self,
        catalog: Catalog,
        cursor: Cursor,
        user: str,
        shown: list[str],
        page: StoredPage,
        page_size: int,
        more: bool = True,
    ) -> RecommendationPage:
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
        # A full page continues the chain, whatever size this request asks for: a page fetched
        # again is the page as first served, and the next one is decoded at the new size.
        full = len(page.items) >= (page.size or page_size)
        more = more and full and cursor.page < self.settings.max_pages
        next_token = self.chains.token(self.chains.following(cursor, page), user) if more else None
        return RecommendationPage(
            items=items,
            next_page_token=next_token,
            model_version=page.model_version,
            page=cursor.page,
            fallback=page.fallback,
        )
