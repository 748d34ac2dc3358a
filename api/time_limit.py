"""A time limit per request on the heavy endpoints (``CIRCLES_REQUEST_TIME_LIMIT_S``).

``/sites`` (and its exports), ``/maps/…``, ``POST /imports/{id}/apply`` and scenario exports are
answered within the limit: past it the client gets a 504 with a JSON ``detail``, and the work stops at
its next safe point. Nothing is left half done:

- an edit commits only through :meth:`Deadline.begin_commit`, which refuses once the request has
  expired, so a 504 edit is rolled back whole (and once the commit has begun the request is no longer
  expired: the client waits for the commit and gets its real answer, never a 504 for an applied edit);
- files (exports) are written under a temporary name and moved into place (:func:`circles._common.
  atomic_write`), so a file is complete or absent; one finished after the 504 is a valid cached export;
- maps and site choices finished after the 504 are kept in their caches for the next request.

The deadline of the current request is a context variable (:data:`CURRENT`): FastAPI runs handlers in
worker threads with the request's context, so the write path (:meth:`api.state.ServiceState._commit`)
finds it without it being passed through every call.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError

log = logging.getLogger(__name__)

__all__ = [
    "CURRENT",
    "HEAVY",
    "Deadline",
    "RequestTimeLimitError",
    "TimeLimitMiddleware",
    "begin_commit",
    "check_deadline",
    "is_heavy",
]


class RequestTimeLimitError(ApiError):
    """A request took longer than the service's time limit (504); nothing it would have changed was."""


#: the deadline of the request being answered (None outside a time-limited request)
CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("circles_deadline", default=None)

#: (prefix, suffix) of the paths with a time limit
HEAVY: tuple[tuple[str, str], ...] = (
    ("/sites", ""),
    ("/maps/", ""),
    ("/imports/", "/apply"),
    ("/scenarios/", "/export"),
)


def is_heavy(path: str) -> bool:
    """Whether ``path`` is one of the time-limited endpoints (see :data:`HEAVY`)."""
    return any(
        path.startswith(p) and path.endswith(s) and (p != "/sites" or path == "/sites") for p, s in HEAVY
    )


class Deadline:
    """The time limit of one request: ``limit_s`` seconds from its creation. Thread-safe: the request's
    handler (a worker thread) and the event loop (which answers the 504) agree on one outcome."""

    def __init__(self, limit_s: float):
        self.limit_s = limit_s
        self.end = time.monotonic() + limit_s
        self._lock = threading.Lock()
        self._expired = False
        self._committing = False

    def remaining_s(self) -> float:
        return self.end - time.monotonic()

    def error(self) -> RequestTimeLimitError:
        return RequestTimeLimitError(
            f"the request took longer than the service's time limit of {self.limit_s:g} s "
            "(CIRCLES_REQUEST_TIME_LIMIT_S); nothing was changed — try again, or ask for less",
            time_limit_s=self.limit_s,
        )

    def check(self) -> None:
        """A :class:`RequestTimeLimitError` when the time is up (a safe point: nothing half done)."""
        if self._expired or time.monotonic() > self.end:
            raise self.error()

    def begin_commit(self) -> None:
        """Called inside a write transaction just before it commits: refuses (raises, so the transaction
        rolls back) when the request has expired or its time is up; afterwards the request can no longer
        expire."""
        with self._lock:
            if self._expired or time.monotonic() > self.end:
                self._expired = True
                raise self.error()
            self._committing = True

    def expire(self) -> bool:
        """Mark the request expired (its client gets a 504); False when a commit has begun (the client
        must wait for it)."""
        with self._lock:
            if self._committing:
                return False
            self._expired = True
            return True


def check_deadline() -> None:
    """:meth:`Deadline.check` of the current request, if it has a time limit."""
    deadline = CURRENT.get()
    if deadline is not None:
        deadline.check()


def begin_commit() -> None:
    """:meth:`Deadline.begin_commit` of the current request, if it has a time limit."""
    deadline = CURRENT.get()
    if deadline is not None:
        deadline.begin_commit()


def _error_messages(deadline: Deadline) -> tuple[Message, Message]:
    import json

    body = json.dumps(
        {"detail": str(deadline.error()), "time_limit_s": deadline.limit_s}, ensure_ascii=False
    ).encode("utf-8")
    start: Message = {
        "type": "http.response.start",
        "status": 504,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class TimeLimitMiddleware:
    """ASGI middleware: the heavy endpoints (:func:`is_heavy`) answer within ``limit_s`` seconds or with a
    504. The handler runs on in the background until its next safe point (its late answer is dropped)."""

    def __init__(self, app: ASGIApp, *, limit_s: float):
        self.app = app
        self.limit_s = limit_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_heavy(scope["path"]):
            await self.app(scope, receive, send)
            return
        deadline = Deadline(self.limit_s)
        token = CURRENT.set(deadline)  # tasks and worker threads started from here inherit it
        done = anyio.Event()
        gave_up = False
        started = False
        error: Exception | None = None

        async def guarded(message: Message) -> None:
            nonlocal started
            if gave_up:
                return  # the client has its 504 already
            started = True
            await send(message)

        async def run() -> None:
            nonlocal error
            try:
                await self.app(scope, receive, guarded)
            except Exception as e:  # raised again below, outside the task group (no exception group)
                error = e
            finally:
                done.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                with anyio.move_on_after(deadline.remaining_s()):
                    await done.wait()
                if not done.is_set() and not started and deadline.expire():
                    gave_up = True
                    for message in _error_messages(deadline):
                        await send(message)
                # otherwise the handler finishes (or commits) and answers itself
        finally:
            CURRENT.reset(token)
        if error is not None:
            if not gave_up:
                raise error
            log.error("%s failed after its time limit: %r", scope["path"], error)
