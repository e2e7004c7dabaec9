from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from service.clients import Scope
from service.deps import HistoriesDep, require
from service.history import EventConflict
from service.metrics import EVENTS
from service.schemas import Event, EventAck, Problem

router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(require(Scope.write))])


@router.post(
    "/events",
    response_model=EventAck,
    responses={code: {"model": Problem} for code in (400, 401, 404, 409, 413, 429, 503)},
)
async def record_event(event: Event, histories: HistoriesDep, request: Request) -> EventAck:
    """Record an interaction: its item enters the user's history (the next recommendation reads
    it) unless it is a rating under `GENREC_HISTORY_MIN_RATING`. Idempotent on `event_id`: a
    retry is acknowledged without writing again."""
    catalog = request.app.state.recommender.catalog
    if catalog.item_index(event.item_id) is None:
        EVENTS.labels(event.type, "unknown_item").inc()
        raise HTTPException(404, f"unknown item_id {event.item_id!r}")
    if not (catalog.knows_user(event.user_id) or request.app.state.settings.accept_new_users):
        EVENTS.labels(event.type, "unknown_user").inc()
        raise HTTPException(404, f"unknown user_id {event.user_id!r}")
    try:
        new = await histories.append(event)
    except EventConflict as e:
        EVENTS.labels(event.type, "conflict").inc()
        raise HTTPException(409, str(e)) from e
    EVENTS.labels(event.type, "recorded" if new else "duplicate").inc()
    return EventAck(event_id=event.event_id, duplicate=not new, in_history=histories.counts(event))
