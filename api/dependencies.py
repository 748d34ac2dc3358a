"""Shared request dependencies: the service state and the query parameters several routers take.

Parameter types are ``Annotated[..., Query()]`` aliases, so every router documents and bounds a
parameter the same way; the page (``limit``/``offset``) is a dependency that checks ``limit`` against the
service's ``max_page`` setting and raises a domain error (422) above it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from circles.errors import InputError

from .state import Answer, Idempotency, ServiceState

T = TypeVar("T")


#: event loop -> the thread slots of each lane of the work quick reads wait for (see :func:`run_quick`)
_QUICK_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]] = (
    weakref.WeakKeyDictionary()
)
#: threads per lane and event loop: catching up with the store (one at a time anyway) apart from
#: building gap indexes for other thresholds, so a stream of those never delays catching up
QUICK_LANES = {"catch_up": 1, "index": 2}


async def run_quick(func: Callable[..., T], *args: Any, lane: str = "index") -> T:
    """``func(*args)`` in a worker thread of a small pool of its own (:data:`QUICK_LANES`), not the
    shared one of heavy requests: what quick reads wait for (catching up with the store, building a
    gap index) never queues behind a site search or an edit's re-planning."""
    loop = asyncio.get_running_loop()
    lanes = _QUICK_SLOTS.get(loop)
    if lanes is None:
        lanes = _QUICK_SLOTS[loop] = {name: anyio.CapacityLimiter(n) for name, n in QUICK_LANES.items()}
    return await anyio.to_thread.run_sync(func, *args, limiter=lanes[lane])


class CatchUp:
    """Catching up with the store, one at a time per worker process: requests that find their worker
    behind await the one catching-up in flight (run in a worker thread) instead of each taking a thread
    to wait for it, and check again after it (an edit committed meanwhile is caught up with too)."""

    def __init__(self) -> None:
        self._running: asyncio.Future[Any] | None = None

    async def __call__(self, state: ServiceState, target: int) -> None:
        """Return once ``state`` reflects store revision ``target`` (the one the request saw when it
        arrived: edits committed after it need not wait for)."""
        while state.revision < target:
            running = self._running
            if running is None or running.done():
                running = self._running = asyncio.ensure_future(run_quick(state.refresh, lane="catch_up"))
                running.add_done_callback(_retrieved)
            await asyncio.shield(running)  # a client gone away does not cancel the others' wait


def _retrieved(done: asyncio.Future[Any]) -> None:
    """Mark a catching-up's error as seen (its waiters raise it; with none left, asyncio would log it
    as never retrieved)."""
    if not done.cancelled():
        done.exception()


async def get_state(request: Request) -> ServiceState:
    """The loaded service state, caught up with the store: when another worker process committed an
    edit since this one's plan, the edit is replayed (in a worker thread, :class:`CatchUp`) before the
    request is answered. The check itself is one indexed SQLite read on the event loop (no thread hop)."""
    state: ServiceState = request.app.state.service
    target = state.store.revision()
    if target > state.revision:
        await request.app.state.catch_up(state, target)
    return state


State = Annotated[ServiceState, Depends(get_state)]

_CATEGORY_TEXT = (
    "facility category: key, Chinese or English name or alias (see /categories), e.g. canteen, 社区食堂"
)
#: a facility category of the catalog by key, name or alias (resolved with ``state.category_key``)
CategoryKey = Annotated[str, Query(max_length=64, description=_CATEGORY_TEXT)]
OptionalCategoryKey = Annotated[str | None, Query(max_length=64, description=_CATEGORY_TEXT)]
District = Annotated[
    str | None,
    Query(
        max_length=64,
        description="district (区): 成华区, 成华 or Chenghua; unknown ones are a 422 listing the valid",
    ),
]
#: "within N minutes" for any category (its own threshold when absent)
Minutes = Annotated[
    float | None,
    Query(
        ge=1,
        le=60,
        allow_inf_nan=False,
        description="judge coverage within these minutes, 1 to 60 (default: the category's own threshold)",
    ),
]
#: "within N metres" of network walking distance instead of minutes (exclusive with ``minutes``)
WalkM = Annotated[
    float | None,
    Query(
        ge=10,
        le=5000,
        allow_inf_nan=False,
        description="judge coverage within this network walking distance, 10 to 5000 metres, instead of "
        "minutes (not both; default: the category's own threshold in the service's measure)",
    ),
]


@dataclass(frozen=True)
class Threshold:
    """What a request judges coverage within: ``minutes`` or ``walk_m`` (metres of network walking
    distance), at most one of them; neither: each category's own threshold in the plan's measure."""

    minutes: float | None = None
    walk_m: float | None = None

    @property
    def given(self) -> bool:
        """Whether the request named a threshold."""
        return self.minutes is not None or self.walk_m is not None

    @property
    def measure(self) -> str | None:
        """``time`` (minutes), ``distance`` (walk_m) or None (the plan's own)."""
        if self.walk_m is not None:
            return "distance"
        return "time" if self.minutes is not None else None


async def threshold_params(minutes: Minutes = None, walk_m: WalkM = None) -> Threshold:
    """``minutes`` or ``walk_m`` of a request; both is an :class:`InputError` (422)."""
    if minutes is not None and walk_m is not None:
        raise InputError(
            f"give minutes or walk_m, not both (got minutes={minutes:g} and walk_m={walk_m:g}): "
            "minutes judge by travel time, walk_m by network walking distance"
        )
    return Threshold(minutes, walk_m)


#: ``minutes`` or ``walk_m`` (see :class:`Threshold`)
Within = Annotated[Threshold, Depends(threshold_params)]
GroupLevel = Literal["compound", "community", "street", "district"]
GroupBy = Annotated[
    GroupLevel | None,
    Query(description="roll up per 小区 (compound), 社区 (community), 街道 (street) or 区 (district)"),
]
Limit = Annotated[int, Query(ge=1, description="page size; at most the service's max_page (default 1000)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]


@dataclass(frozen=True)
class Page:
    """One page of a list: ``limit`` rows from row ``offset``."""

    limit: int
    offset: int

    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.limit)


def page_params(default_limit: int) -> Callable[..., Awaitable[Page]]:
    """A dependency reading ``limit`` (default ``default_limit``) and ``offset``; a ``limit`` above the
    service's ``max_page`` setting is an :class:`InputError`."""

    async def page(state: State, limit: Limit = default_limit, offset: Offset = 0) -> Page:
        max_page = state.settings.max_page
        if limit > max_page:
            raise InputError(f"limit must be at most {max_page} (the service's max_page), got {limit}")
        return Page(limit, offset)

    return page


#: ``limit`` (default 100) and ``offset`` of a list
ListPage = Annotated[Page, Depends(page_params(100))]


#: ``Idempotency-Key`` of a write: a retry with the same key answers the first answer, changing nothing
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="any unique printable text (e.g. a UUID); a retry with the same key and request gets "
        "the first answer and changes nothing; kept 7 days",
    ),
]


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def idempotency(key: str | None, *request: str) -> Idempotency | None:
    """The :class:`~api.state.Idempotency` of a write sent with ``key``: the fingerprint digests the
    ``request`` parts (method, path, body), so the key cannot answer a different request."""
    if key is None:
        return None
    return Idempotency(key, hashlib.sha256("\n".join(request).encode("utf-8")).hexdigest())


def answer_response(answer: Answer) -> JSONResponse:
    """A write's answer; a retry's stored one carries ``Idempotent-Replayed: true``."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
