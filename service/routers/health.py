from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from redis.exceptions import RedisError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up (liveness)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, response: Response) -> dict:
    """Redis answers and Triton has the model ready (readiness)."""
    state = request.app.state
    try:
        redis_ok = bool(await state.redis.ping())
    except (RedisError, OSError):
        redis_ok = False
    model_ok = await state.decoder.ready()
    ready = redis_ok and model_ok
    response.status_code = 200 if ready else 503
    return {"ready": ready, "redis": redis_ok, "model": model_ok}


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """This process's metrics, or all workers' when uvicorn runs several (prometheus-client's
    multiprocess mode, on when PROMETHEUS_MULTIPROC_DIR is set)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
