"""``create_app(settings)``: the FastAPI application. Heavy state is loaded once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from circles import __version__

from .errors import BodySizeLimit, register_errors
from .routers import communities, coverage, facilities, imports, isochrones, meta, outputs
from .schemas import ERROR_RESPONSES
from .settings import Settings
from .state import ServiceState

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, state: ServiceState | None = None) -> FastAPI:
    """The service. ``state`` may be given pre-loaded (tests); otherwise it is loaded at start-up."""
    settings = settings or (state.settings if state is not None else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # CPU-bound handlers (isochrones, edits) run in threads: a few threads keep the GIL handoffs
        # cheap on a small machine (anyio's default is 40)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        if getattr(app.state, "service", None) is None:
            app.state.service = ServiceState(settings)
            log.info("region %s loaded", settings.region)
        yield

    app = FastAPI(
        title="circles — 15-minute community life circle planner",
        version=__version__,
        description=(
            "Coverage layers, gap lists (within any minutes, rolled up per 社区/街道/区), isochrones, "
            "facility edits and bulk imports. "
            "Map data © OpenStreetMap contributors (ODbL)."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = state
    register_errors(app)
    for r in (meta, isochrones, coverage, communities, facilities, imports, outputs):
        app.include_router(r.router, responses=ERROR_RESPONSES)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        prefixes=[("/imports/", settings.max_upload_bytes)],
    )
    return app
