"""Shared request dependencies: the service state and parsed common query parameters."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from .state import ServiceState


async def get_state(request: Request) -> ServiceState:
    """The loaded service state (async: no thread hop for a dictionary lookup)."""
    return request.app.state.service


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"
