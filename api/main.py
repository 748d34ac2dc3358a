"""``create_app(settings)``: the FastAPI application. Heavy state is loaded once in the lifespan.

Several worker processes may serve one state folder (``run_server(..., workers=N)``): the SQLite store
is the single source of truth and every worker catches up with it before answering (see
:mod:`api.sync`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from circles import __version__
from circles.config import get_profile
from circles.routing.isochrones import warm_up

from .access import Access, open_host_warning
from .admission import AdmissionMiddleware, RequestLoad
from .allow import register_allow
from .body_guard import BodyGuard
from .dependencies import CatchUp
from .docs_offline import add_offline_redoc
from .errors import SettingsError, register_errors
from .gap_index import gap_index_of
from .openapi import install as install_openapi
from .response_cache import ResponseCache, ResponseCacheMiddleware
from .routers import app as workbench  # the planning workbench at /
from .routers import communities, coverage, edits, facilities, imports, isochrones, meta, outputs
from .routers import scenarios as scenario_routes  # what-if scenarios (issue 14)
from .schemas import ERROR_RESPONSES
from .settings import Settings, apply_environment
from .state import ServiceState
from .store import FacilityStore
from .time_limit import RequestTimeLimitError, TimeLimitMiddleware

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, state: ServiceState | None = None) -> FastAPI:
    """The service. ``state`` may be given pre-loaded (tests); otherwise it is loaded at start-up.
    Settings are checked here (one-line :class:`~api.errors.SettingsError` /
    :class:`~api.errors.StoreError`): the state folder writable, the database usable, the tokens read."""
    settings = settings or (state.settings if state is not None else Settings())
    access = Access.from_settings(settings)
    if state is None:
        settings.check_state_dir()
        FacilityStore(settings.db_path).close()  # a corrupt database fails here, not in a worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # CPU-bound handlers (maps, edits, sites) run in threads; cheap reads on the event loop. Few
        # threads and a short switch interval keep the loop's waits for the interpreter lock short
        # (anyio's default is 40 threads, Python's interval 5 ms); /healthz runs on the event loop
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        interval_s = sys.getswitchinterval()
        sys.setswitchinterval(settings.switch_interval_ms / 1000.0)
        own = getattr(app.state, "service", None) is None
        if own:
            app.state.service = ServiceState(settings)
            log.info("region %s loaded", settings.region)
            # /isochrones: walk graph, polygon index and compiled loops ready before the first request;
            # /gaps: the plan's gap index
            warm_up(app.state.service.result.data.net, get_profile("walk"))
            gap_index_of(app.state.service.result)
        try:
            yield
        finally:
            sys.setswitchinterval(interval_s)  # the process's own again (tests run several apps)
            if own:
                app.state.service.close()

    app = FastAPIOffline(  # /docs and /redoc with their scripts served locally: they work offline
        title="circles — 15-minute community life circle planner",
        version=__version__,
        description=(
            "Coverage layers, gap lists (within any minutes, rolled up per 社区/街道/区), isochrones, "
            "facility edits and bulk imports. Reads are open; edits need `Authorization: Bearer <token>` "
            "when the service has write tokens, and take an `Idempotency-Key`. "
            "Map data © OpenStreetMap contributors (ODbL)."
        ),
        lifespan=lifespan,
        redoc_url=None,  # served by add_offline_redoc: ReDoc's own script fetches its logo from a CDN
    )
    add_offline_redoc(app)
    app.state.settings = settings
    app.state.service = state
    app.state.access = access
    app.state.catch_up = CatchUp()
    register_errors(app)
    install_openapi(app, settings)
    for r in (meta, isochrones, coverage, communities, facilities, edits, imports, outputs, workbench):
        app.include_router(r.router, responses=ERROR_RESPONSES)
    app.include_router(scenario_routes.router, responses=ERROR_RESPONSES)
    app.add_exception_handler(RequestTimeLimitError, _time_limit_error)
    register_allow(app)
    # the last added runs first: cached reads are answered before anything else; bodies are read whole
    # (uploads streamed); then quick reads go straight on while other requests are admitted a few at a
    # time (api/admission.py)
    app.add_middleware(TimeLimitMiddleware, limit_s=settings.request_time_limit_s)
    # inside the body guard: a request is admitted once its body is read (a slow client holds no slot)
    app.state.load = RequestLoad()
    app.add_middleware(AdmissionMiddleware, max_running=settings.max_running_work, load=app.state.load)
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_body_bytes,
        prefixes=[(p, settings.max_upload_bytes) for p in ("/imports/facilities", "/imports/communities")],
        timeout_s=settings.body_timeout_s,
    )
    app.state.response_cache = ResponseCache(settings.response_cache_bytes)
    app.add_middleware(ResponseCacheMiddleware, cache=app.state.response_cache)
    return app


async def _time_limit_error(request: Request, exc: Exception) -> JSONResponse:
    """A heavy request past ``CIRCLES_REQUEST_TIME_LIMIT_S``: 504 with a JSON detail."""
    limit = exc.extra.get("time_limit_s") if isinstance(exc, RequestTimeLimitError) else None
    return JSONResponse({"detail": str(exc), "time_limit_s": limit}, status_code=504)


def run_server(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve ``settings`` with uvicorn: one process, or ``workers`` processes on one state folder (the
    settings are passed to them as ``CIRCLES_*`` variables). Checks the settings first (one-line errors)
    and warns when listening beyond loopback without a write token."""
    import uvicorn

    if workers < 1:
        raise SettingsError(f"workers must be at least 1, got {workers}")
    app = create_app(settings)  # checks the state folder, the database and the tokens
    warning = open_host_warning(settings, host)
    if warning:
        log.warning(warning)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    apply_environment(settings)
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")
