"""Shared request dependencies: the service state and the query parameters several routers take.

Parameter types are ``Annotated[..., Query()]`` aliases, so every router documents and bounds a
parameter the same way; the page (``limit``/``offset``) is a dependency that checks ``limit`` against the
service's ``max_page`` setting and raises a domain error (422) above it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from circles.errors import InputError

from .state import ServiceState


async def get_state(request: Request) -> ServiceState:
    """The loaded service state (async: no thread hop for a dictionary lookup)."""
    state: ServiceState = request.app.state.service
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
        gt=0,
        le=60,
        allow_inf_nan=False,
        description="judge coverage within these minutes (default: the category's own threshold)",
    ),
]
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


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"
