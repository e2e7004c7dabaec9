from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up (liveness)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict:
    """The gateway can serve a page (readiness): always, once started, since with Redis or
    Triton down it serves popularity pages. `redis` / `model` say whether each answered within
    the probe deadline, `serving` what pages come from now."""
    backends = await request.app.state.probe.check()
    return {
        "ready": True, "redis": backends.redis, "model": backends.model,
        "serving": backends.serving,
    }  # fmt: skip


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """This process's metrics, or all workers' when uvicorn runs several (prometheus-client's
    multiprocess mode, on when PROMETHEUS_MULTIPROC_DIR is set)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
