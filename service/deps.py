"""FastAPI dependencies: the shared clients the lifespan opened, taken from `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.history import Histories
from service.recommender import Recommender


def get_recommender(request: Request) -> Recommender:
    return request.app.state.recommender


def get_histories(request: Request) -> Histories:
    return request.app.state.histories


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
HistoriesDep = Annotated[Histories, Depends(get_histories)]
