"""One table maps domain errors to HTTP status codes; registered by :func:`register_errors`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from circles.errors import (
    CirclesError,
    CoordinateSystemError,
    InputError,
    OutsideRegionError,
    SnapError,
    UnknownCategoryError,
    UnknownProfileError,
    UnknownRegionError,
)

log = logging.getLogger(__name__)


class NotFoundError(CirclesError, LookupError):
    """An id (community, facility, export, map region) that does not exist."""


STATUS = {
    NotFoundError: 404,
    UnknownRegionError: 404,
    UnknownCategoryError: 422,
    UnknownProfileError: 422,
    OutsideRegionError: 422,
    SnapError: 422,
    CoordinateSystemError: 422,
    InputError: 422,
    CirclesError: 400,
}


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def register_errors(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(CirclesError, domain_error)
    app.add_exception_handler(Exception, unexpected)


class BodySizeLimit:
    """ASGI middleware: 413 with a JSON ``detail`` for request bodies over ``max_bytes`` (by header or
    by counting a streamed body)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = False
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
        if too_big:
            return await self._reject(send)
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = b'{"detail":"request body too large (limit %d bytes)"}' % self.max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
