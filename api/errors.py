"""One table maps domain errors to HTTP status codes; registered by :func:`register_errors`, with a
request-validation handler that can answer about any input (non-finite numbers, lone surrogates)."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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


class UnauthorizedError(ApiError):
    """A write without ``Authorization: Bearer <token>`` on a service configured with tokens (401)."""


class ForbiddenError(ApiError):
    """A write the service refuses: a wrong token, or a remote client on a service without tokens."""


class SettingsError(ApiError, InputError):
    """A setting (``CIRCLES_*`` variable or option) the service cannot start with (one line)."""


class StoreError(ApiError, InputError):
    """The state folder or its database cannot be used (one line)."""


STATUS = {
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnauthorizedError: 401,
    ForbiddenError: 403,
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


def json_safe(value: Any) -> Any:
    """``value`` with what strict JSON in UTF-8 cannot carry made printable: non-finite floats as
    text (``'nan'``, ``'inf'``), lone surrogates as ``\\udXXX`` escapes, bytes decoded."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes):
        return json_safe(value.decode("utf-8", "backslashreplace"))
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def register_errors(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        extra = exc.extra if isinstance(exc, ApiError) else {}
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        body = json_safe({"detail": str(exc), **extra})
        return JSONResponse(body, status_code=status_for(exc), headers=headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else [{"msg": str(exc)}]
        return JSONResponse({"detail": json_safe(jsonable_encoder(json_safe(errors)))}, status_code=422)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(CirclesError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)
