"""One table maps domain errors to HTTP status codes; registered by :func:`register_errors`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

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


class ApiError(CirclesError):
    """A domain error of the service; ``extra`` holds JSON members sent beside ``detail`` (e.g. the
    ids a name matches, the near matches of an unknown name)."""

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.extra = extra


class NotFoundError(ApiError, LookupError):
    """An id (community, facility, export, map region, import) that does not exist."""


class ConflictError(ApiError):
    """The request contradicts the state: a name shared by several communities, an import already
    applied or one the service changed under since its dry run."""


class PayloadTooLargeError(ApiError):
    """An uploaded file over the service's upload limit."""


STATUS = {
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
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
        extra = exc.extra if isinstance(exc, ApiError) else {}
        return JSONResponse({"detail": str(exc), **extra}, status_code=status_for(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(CirclesError, domain_error)
    app.add_exception_handler(Exception, unexpected)


class BodySizeLimit:
    """ASGI middleware: 413 with a JSON ``detail`` for request bodies over ``max_bytes`` (by header or
    by counting a streamed body). ``prefixes``: ``(path prefix, limit)`` pairs for routes with their
    own limit (file uploads), the first matching prefix wins."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefixes: Sequence[tuple[str, int]] = ()):
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = tuple(prefixes)

    def limit_for(self, path: str) -> int:
        return next((n for p, n in self.prefixes if path.startswith(p)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(str(scope.get("path", "")))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = False
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = True
        if too_big:
            return await self._reject(send, limit)
        seen = 0
        over = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            if not over:  # a handler that turned the abort into its own error answer is not heard
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if over:
            await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        body = b'{"detail":"request body too large (limit %d bytes)"}' % limit
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
