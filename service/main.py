"""The gateway application, `service.main:app`, served by `python -m service.server`.

The lifespan opens the async Redis clients (events and histories; page chains, when they have
a Redis of their own) and the Triton client once per process, reads the catalogue of the
model version Triton serves, follows Triton onto newer versions (`service.rollout`), and closes
them on shutdown. `service.errors` decides what clients see of an error.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from service import errors
from service.breaker import Breaker
from service.clients import Clients
from service.decoder import TritonDecoder
from service.history import Histories
from service.metrics import BREAKER_OPEN, LIMITS_LOCAL
from service.middleware import BodyLimit, Metrics, RateLimit, SharedWindows, TokenBuckets
from service.pages import PageChains
from service.probe import BackendProbe
from service.recommender import Recommender
from service.rollout import CatalogWatcher, initial_catalog
from service.routers import events, health, history, page, recommendations
from service.settings import (
    MIN_SECRET,
    Settings,
    cache_redis_target,
    get_settings,
    redis_password,
    token_secret,
    unsafe,
)

log = logging.getLogger("genrec.gateway")


def _log_beside_uvicorn() -> None:
    """uvicorn sets up its own loggers only: without a handler of its own, the gateway's INFO
    lines (the version it serves, a rollout's switch) would never reach the log."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _redis(url: str, password: str | None) -> Redis:
    return Redis.from_url(url, password=password, socket_timeout=1.0, socket_connect_timeout=1.0)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    _log_beside_uvicorn()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if problems := unsafe(settings):  # no shipped secret ever serves
            log.error(
                "refusing to start: %s (%d or more characters of your own; "
                "GENREC_DEV_MODE=true on a development machine only)",
                "; ".join(problems), MIN_SECRET,
            )  # fmt: skip
            raise SystemExit(2)
        if settings.dev_mode:
            log.warning("GENREC_DEV_MODE: built-in secrets accepted; never in production")
        redis = _redis(settings.redis_url, redis_password(settings))
        cache_redis = _redis(*cache_redis_target(settings)) if settings.cache_redis_url else redis
        breaker = Breaker(settings.breaker_failures, settings.breaker_reset_s, BREAKER_OPEN)
        decoder = TritonDecoder(
            settings.triton_url, settings.triton_model, settings.triton_timeout_s, breaker,
            settings.triton_max_batch, settings.triton_max_calls,
        )  # fmt: skip
        catalog = await initial_catalog(settings.model_dir, decoder)
        histories = Histories(
            redis, settings.history_max, settings.event_ttl_s, settings.history_min_rating,
            settings.redis_wait_replicas, settings.redis_wait_timeout_ms,
        )  # fmt: skip
        chains = PageChains(cache_redis, token_secret(settings), settings.page_ttl_s)
        app.state.settings, app.state.histories = settings, histories
        app.state.probe = BackendProbe(
            redis, decoder, settings.probe_timeout_s, settings.probe_cache_s
        )
        app.state.recommender = Recommender(settings, catalog, histories, chains, decoder)
        watcher = CatalogWatcher(
            app.state.recommender, decoder, settings.model_dir, settings.catalog_poll_s
        )
        log.info("serving %s (store %s)", catalog.version, catalog.store_version)
        # Everything allocated so far lives as long as the process: keep it out of the cyclic
        # GC, whose full collections over it stalled a worker for 26-42 ms (2-core CPU) mid-load.
        gc.collect()
        gc.freeze()
        watching = asyncio.create_task(watcher.run())
        try:
            yield
        finally:
            watching.cancel()
            await decoder.close()
            await redis.aclose()
            if cache_redis is not redis:
                await cache_redis.aclose()

    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's package files.
    app = FastAPIOffline(
        title="genrec",
        version="0.1.0",
        summary="Generative recommendation: semantic-ID decoding behind an HTTP API",
        lifespan=lifespan,
    )
    app.state.clients = clients = Clients(settings)
    routers = (recommendations.router, events.router, history.router, health.router, page.router)
    for router in routers:
        app.include_router(router)
    app.mount(page.ASSETS_URL, page.assets, name="ui")

    errors.install(app)

    # Innermost: pages it serves pass CORS, the body cap, the rate limit and the metrics too.
    app.add_middleware(recommendations.HotPath)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key"],
        )  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    local = TokenBuckets(settings.rate_limit_rps, settings.rate_limit_burst)
    shared = None
    if settings.rate_limit_scope == "shared":
        shared = SharedWindows(
            *cache_redis_target(settings), settings.rate_limit_rps, settings.rate_limit_burst,
            Breaker(settings.breaker_failures, settings.breaker_reset_s, LIMITS_LOCAL),
        )  # fmt: skip
    app.add_middleware(RateLimit, local=local, shared=shared, clients=clients)
    app.add_middleware(Metrics, routes={r.path for x in routers for r in x.routes})
    return app


app = create_app()
