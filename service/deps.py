"""FastAPI dependencies: the shared clients the lifespan opened, taken from `app.state`.

All are `async def` though none awaits: FastAPI runs a plain `def` dependency in a worker
thread, a thread hop per request that profiling showed costing more gateway CPU than the
recommendation handler itself."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from service.history import Histories
from service.recommender import Recommender


async def get_recommender(request: Request) -> Recommender:
    return request.app.state.recommender


async def get_histories(request: Request) -> Histories:
    return request.app.state.histories


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
HistoriesDep = Annotated[Histories, Depends(get_histories)]


async def require_api_key(
    request: Request, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Writes need the configured key (constant-time comparison). None configured (or an
    empty one) is open, which only dev mode lets the gateway start with."""
    key = request.app.state.settings.api_key
    if key is None or not key.get_secret_value():
        return
    if x_api_key is None or not hmac.compare_digest(
        x_api_key.encode(), key.get_secret_value().encode()
    ):
        challenge = {"WWW-Authenticate": "ApiKey"}
        raise HTTPException(401, "missing or wrong X-API-Key", headers=challenge)
