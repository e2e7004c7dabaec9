"""How errors reach clients: JSON `{"detail": ...}` with a 4xx/5xx status, never a stack trace
and never the client's own input echoed back (a 10,000-character id, a NaN or a lone surrogate
would otherwise come back whole, or fail to render and become a 500)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

log = logging.getLogger("genrec.gateway")

MAX_ERRORS = 20  # a body of 1,000 unknown keys gets a short answer, not a long one
MAX_TEXT = 200


def _printable(value: object) -> str | int:
    """A location part or message, safe to render: ints as they are, text cut short and with
    anything UTF-8 cannot encode escaped."""
    if isinstance(value, int):
        return value
    text = str(value)[:MAX_TEXT]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 saying where and what, in FastAPI's documented shape, without `input`/`ctx`."""
        detail = [
            {
                "loc": [_printable(part) for part in error["loc"]],
                "msg": _printable(error["msg"]),
                "type": _printable(error["type"]),
            }
            for error in exc.errors()[:MAX_ERRORS]
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RedisError)
    async def redis_down(_: Request, exc: RedisError) -> JSONResponse:
        log.warning("redis error: %s", exc)
        return JSONResponse(
            {"detail": "history store unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)
