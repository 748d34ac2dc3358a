"""Quick reads first: at most ``max_running_work`` other requests are processed at once per worker
process; the rest wait their turn (first come, first served) without taking any CPU.

A worker process runs Python one thread at a time, so on a busy service every request in progress
shares the same time: twenty requests in progress each take twenty times as long. The planner's
interactive questions — a page of the gap list, the categories, a facility or community page, the
health check — cost about a millisecond once a plan's tables are built (the first one after an edit
builds them: a few milliseconds), while isochrones,
coverage layers, edits, site searches, maps, imports and scenarios cost from a few milliseconds to
seconds. Quick reads (:func:`is_quick`) are never queued; the other requests are admitted a few at a
time, once their body is read, so a quick read waits behind at most that few instead of behind
everyone. Admitting more at once would not answer them sooner: they would share the same interpreter.
Answers the response cache (:mod:`api.response_cache`) holds are sent before this runs, whatever their
path. Time spent waiting here does not count against ``CIRCLES_REQUEST_TIME_LIMIT_S``.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["QUICK_PATHS", "UNQUEUED_UPLOADS", "AdmissionMiddleware", "RequestLoad", "is_quick"]

#: GET paths answered from a plan's indexes in well under a millisecond (exact, or a prefix ending
#: in "/"); ``/gaps`` only as a page of JSON, CSV or GeoJSON (see :func:`is_quick`)
QUICK_PATHS = (
    "/gaps",
    "/healthz",
    "/categories",
    "/facilities",
    "/communities",
    "/communities/",
    "/app/static/",
    "/app/leaflet/",
)
#: POST paths never queued: uploads, streamed in by the body guard at their own pace (bounded by
#: ``CIRCLES_MAX_UPLOAD_BYTES`` and the body rate), would hold a slot for as long as the client sends
UNQUEUED_UPLOADS = ("/imports/facilities", "/imports/communities")
#: ``/gaps`` parameters that make it real work: a roll-up, a spreadsheet, a scenario's plan
_GAPS_WORK = {"group_by", "scenario"}


def is_quick(method: str, path: str, query_string: bytes) -> bool:
    """Whether a request is never queued: a GET (or HEAD) of :data:`QUICK_PATHS` (``/gaps`` without
    ``group_by`` or ``scenario`` and not as ``xlsx``), or an upload (:data:`UNQUEUED_UPLOADS`)."""
    if method == "POST" and path in UNQUEUED_UPLOADS:
        return True
    if method not in ("GET", "HEAD"):
        return False
    if not any(path == p or (p.endswith("/") and path.startswith(p)) for p in QUICK_PATHS):
        return False
    if path != "/gaps" or not query_string:
        return True
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in _GAPS_WORK or (name == "format" and value == "xlsx"):
            return False
    return True


class RequestLoad:
    """What a worker is answering now: quick reads in progress, other requests admitted and waiting.
    Handlers read it (e.g. ``/isochrones`` computes on the event loop only while no quick read is in
    progress, in a thread otherwise); only the event loop changes it."""

    def __init__(self) -> None:
        self.quick = 0
        self.running = 0
        self.waiting = 0


class AdmissionMiddleware:
    """ASGI middleware admitting at most ``max_running`` requests that are not quick reads at once
    (an :class:`asyncio.Semaphore`, first come first served); quick reads pass straight through.
    ``load`` counts the quick reads in progress and the admitted and queued requests."""

    def __init__(self, app: ASGIApp, *, max_running: int, load: RequestLoad | None = None):
        if max_running < 1:
            raise ValueError(f"max_running must be at least 1, got {max_running}")
        self.app = app
        self.max_running = max_running
        self.load = load if load is not None else RequestLoad()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def running(self) -> int:
        return self.load.running

    @property
    def waiting(self) -> int:
        return self.load.waiting

    def _semaphore(self) -> asyncio.Semaphore:
        """The slots of the running event loop (a new loop, as in tests that start the app again, gets
        its own)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.max_running))
        return self._slots[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        load = self.load
        if is_quick(scope["method"], scope["path"], scope.get("query_string", b"")):
            load.quick += 1
            try:
                await self.app(scope, receive, send)
            finally:
                load.quick -= 1
            return
        slots = self._semaphore()
        load.waiting += 1
        try:
            await slots.acquire()
        finally:
            load.waiting -= 1
        load.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            load.running -= 1
            slots.release()
