"""FastAPI dependencies: the shared clients the lifespan opened, taken from `app.state`.

All are `async def` though none awaits: FastAPI runs a plain `def` dependency in a worker
thread, a thread hop per request that profiling showed costing more gateway CPU than the
recommendation handler itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from service.clients import Client, Clients, Scope
from service.history import Histories
from service.recommender import Recommender


async def get_recommender(request: Request) -> Recommender:
    return request.app.state.recommender


async def get_histories(request: Request) -> Histories:
    return request.app.state.histories


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
HistoriesDep = Annotated[Histories, Depends(get_histories)]


def require(scope: Scope):
    """A dependency: the caller's `X-API-Key` must name a client with `scope`, unless that
    scope is open (`Clients.needs_key`). → the client (None when open and none was sent).
    401 without a known key, 403 for a client without the scope."""

    async def check(
        request: Request, x_api_key: Annotated[str | None, Header()] = None
    ) -> Client | None:
        clients: Clients = request.app.state.clients
        client = clients.identify(x_api_key)
        if clients.permits(client, scope):
            return client
        if client is None:
            challenge = {"WWW-Authenticate": "ApiKey"}
            raise HTTPException(401, "missing or wrong X-API-Key", headers=challenge)
        raise HTTPException(403, f"this key may not {scope}")

    return check
