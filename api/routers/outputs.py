"""``/maps/{region}.html``, ``/sites`` and ``/exports/{name}``: maps and files for planners and designers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from ..dependencies import get_state
from ..errors import NotFoundError
from ..state import ServiceState

router = APIRouter(tags=["outputs"])
State = Annotated[ServiceState, Depends(get_state)]


@router.get("/maps/{region}.html", response_class=HTMLResponse)
def region_map(
    state: State,
    region: Annotated[str, Path(max_length=64)],
    category: Annotated[str | None, Query(max_length=64)] = None,
    minutes: Annotated[int, Query(ge=5, le=15, description="5, 10 or 15")] = 10,
) -> HTMLResponse:
    """The coverage map (self-contained HTML, works offline; no base tiles)."""
    res = state.result
    if region != res.data.region.key:
        raise NotFoundError(f"this service serves region {res.data.region.key!r}, not {region!r}")
    if category is not None:
        res.data.catalog.get(category)
    key = (id(res), category, minutes)
    html = state.map_cache.get(key)
    if html is None:
        from circles.webmap import render_map

        html = render_map(res, category=category, minutes=minutes)
        state.map_cache[key] = html
    return HTMLResponse(html)
