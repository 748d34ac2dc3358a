"""405 answers name every method of their path in ``Allow``.

Starlette answers a method a path does not have from the first route whose path matches, so ``PUT
/facilities`` said ``Allow: GET`` although the path also takes ``POST`` (schemathesis ST205). Here the
``Allow`` of a 405 lists the methods of every route of that path."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

__all__ = ["allowed_methods", "register_allow"]

#: the order methods are listed in
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    """(path pattern, methods) of every path the OpenAPI document declares."""
    out = []
    for template, item in app.openapi().get("paths", {}).items():
        out.append((compile_path(template)[0], {m.upper() for m in item if m.upper() in _ORDER}))
    return out


def allowed_methods(request: Request) -> list[str]:
    """The methods the service declares for the request's path (every route of it, not only the first
    matched), in a fixed order; empty for an undocumented path."""
    app = request.app
    table = getattr(app.state, "path_methods", None)
    if table is None:
        table = app.state.path_methods = path_methods(app)
    found: set[str] = set()
    for pattern, methods in table:
        if pattern.match(request.url.path):
            found |= methods
    return sorted(found, key=lambda m: (_ORDER.index(m), m))


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for these only
        raise exc
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    methods = allowed_methods(request)
    headers = {**(exc.headers or {}), **({"Allow": ", ".join(methods)} if methods else {})}
    return JSONResponse({"detail": exc.detail}, status_code=405, headers=headers)


def register_allow(app: FastAPI) -> None:
    """Answer 405s with the full ``Allow`` (other HTTP errors as FastAPI does)."""
    app.add_exception_handler(StarletteHTTPException, _method_not_allowed)
