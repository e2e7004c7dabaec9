from __future__ import annotations

from fastapi import APIRouter, Request

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
