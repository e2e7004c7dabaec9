"""The page a person opens in a browser: `GET /` and its assets under `/ui/`, which ship in the
package (`service/static/`): no CDN, no build step. It calls the same public API as any client."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from service.clients import Scope
from service.schemas import PageConfig

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS_URL = "/ui"

router = APIRouter(include_in_schema=False)
assets = StaticFiles(directory=STATIC)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get(f"{ASSETS_URL}/config")
async def config(request: Request) -> PageConfig:
    state = request.app.state
    catalog, clients = state.recommender.catalog, state.clients
    # Example ids only where anyone may read their pages: else they would list who exists.
    examples = state.settings.ui_example_users if clients.anonymous_reads else 0
    return PageConfig(
        model_version=catalog.version,
        example_users=catalog.example_users(examples),
        page_size=5,
        reads_need_key=clients.needs_key(Scope.read),
        writes_need_key=clients.needs_key(Scope.write),
    )
