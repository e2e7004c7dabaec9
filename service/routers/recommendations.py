from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response

from service.clients import Scope
from service.deps import RecommenderDep, require
from service.pages import BadPageToken
from service.schemas import Problem, RecommendationPage, RecommendationRequest

router = APIRouter(
    prefix="/v1", tags=["recommendations"], dependencies=[Depends(require(Scope.read))]
)


@router.post(
    "/recommendations",
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
