from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from service.clients import Scope
from service.deps import HistoriesDep, require
from service.schemas import ID_MAX, ID_PATTERN, HistoryItem, Problem, UserHistory

router = APIRouter(prefix="/v1", tags=["history"], dependencies=[Depends(require(Scope.read))])


@router.get(
    "/history",
    response_model=UserHistory,
    responses={code: {"model": Problem} for code in (401, 403, 404, 429)},
)
async def history(
    user_id: Annotated[str, Query(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)],
    histories: HistoriesDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> UserHistory:
    """The user's most recent items, newest first, with their titles: what their next
    recommendation is decoded from."""
    catalog = request.app.state.recommender.catalog
    recent = await histories.recent(user_id, limit)
    if not recent and not catalog.knows_user(user_id):
        raise HTTPException(404, f"unknown user_id {user_id!r}")
    items = [HistoryItem(item_id=i, title=catalog.title(i)) for i in reversed(recent)]
    return UserHistory(user_id=user_id, items=items)
