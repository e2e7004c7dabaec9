"""POST /v1/recommendations: the FastAPI route, which documents the endpoint and answers every
error, and `HotPath`, which serves the requests that become pages without FastAPI's
per-request machinery."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import ValidationError
from redis.exceptions import RedisError

from service.clients import Clients, Scope
from service.deps import RecommenderDep, require
from service.pages import BadPageToken
from service.recommender import Recommender
from service.schemas import Problem, RecommendationPage, RecommendationRequest

ROUTE = "/recommendations"
router = APIRouter(
    prefix="/v1", tags=["recommendations"], dependencies=[Depends(require(Scope.read))]
)


@router.post(
    ROUTE,
    response_model=RecommendationPage,
    responses={code: {"model": Problem} for code in (400, 401, 403, 404, 413, 429)},
)
async def recommend(body: RecommendationRequest, recommender: RecommenderDep) -> Response:
    """A page of items the user is likely to want next. Pass the previous page's
    `next_page_token` for the next page of the same chain (no item repeats within a chain;
    the same token returns the same page)."""
    try:
        page = await recommender.page(body)
    except BadPageToken as e:
        raise HTTPException(e.status, str(e)) from e
    # Built as a RecommendationPage, so serialized once here: FastAPI would validate it again
    # against the response model first (the schema tests check every response against it).
    return Response(page.model_dump_json(), media_type="application/json")


class HotPath:
    """ASGI middleware serving `recommend`'s pages straight from the recommender.

    FastAPI's routing, dependency solving and exit stacks cost more gateway CPU per page than
    the page itself: driven in-process (direct ASGI calls at 16 in flight, real Redis and
    Triton, 2-core CPU) a page took 0.36-0.42 ms through the route, 0.23-0.24 through this
    path, the middleware around both included. Only a request
    that will become a page takes it: a POST with a JSON body, from a client `require` would
    let in, that validates as a `RecommendationRequest` (parsed and validated as FastAPI does:
    JSON to Python, then the model), answered with a page. Anything else (no key, a body that
    does not validate, a bad page token, a Redis failure) goes on to the route with its body
    replayed, so the route alone defines every error answer, and the documented endpoint.
    It runs inside CORS, `BodyLimit`, `RateLimit` and `Metrics`, so pages are capped, limited
    and counted the same either way."""

    PATH = router.prefix + ROUTE

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != self.PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        state = scope["app"].state
        if not self._admitted(scope["headers"], state.clients):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        page = await self._page(body, state.recommender)
        if page is None:
            return await self.app(scope, _replaying(body, receive), send)
        headers = [(b"content-length", str(len(page)).encode()), (b"content-type", _JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    @staticmethod
    def _admitted(headers: list[tuple[bytes, bytes]], clients: Clients) -> bool:
        """A JSON body from a client `require(Scope.read)` lets in."""
        key = content_type = None  # each header's first value, as the route reads them
        for name, value in headers:
            if name == b"x-api-key" and key is None:
                key = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value
        if content_type is None or content_type.split(b";")[0].strip().lower() != _JSON:
            return False
        return clients.permits(clients.identify(key), Scope.read)

    @staticmethod
    async def _page(body: bytes, recommender: Recommender) -> bytes | None:
        """The page as JSON, or None for the route to answer."""
        try:
            request = RecommendationRequest.model_validate(orjson.loads(body))
            page = await recommender.page(request)
        except (orjson.JSONDecodeError, ValidationError, BadPageToken, RedisError):
            return None
        return page.model_dump_json().encode()


_JSON = b"application/json"


def _replaying(body: bytes, receive):
    """`receive` with the body already read given back first."""
    pending = True

    async def replay():
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
