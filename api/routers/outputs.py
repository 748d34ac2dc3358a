"""``/maps/{region}.html``, ``/sites`` and ``/exports/{name}``: maps and files for planners and designers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, HTMLResponse

from circles.outputs.export import MEDIA_TYPES, export, export_format, safe_export_path

from ..dependencies import CategoryKey, OptionalCategoryKey, State
from ..errors import NotFoundError

router = APIRouter(tags=["outputs"])


@router.get("/maps/{region}.html", response_class=HTMLResponse)
def region_map(
    state: State,
    region: Annotated[str, Path(max_length=64)],
    category: OptionalCategoryKey = None,
    minutes: Annotated[int, Query(ge=5, le=15, description="5, 10 or 15")] = 10,
) -> HTMLResponse:
    """The coverage map (self-contained HTML, works offline; no base tiles)."""
    res = state.result
    if region != res.data.region.key:
        raise NotFoundError(f"this service serves region {res.data.region.key!r}, not {region!r}")
    key = state.category_key(category) if category is not None else None
    return HTMLResponse(state.map_html(key, minutes))


@router.get("/sites")
def sites(
    state: State,
    category: CategoryKey,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    format: Annotated[Literal["gpkg", "shp.zip", "geojson"] | None, Query()] = None,
) -> dict[str, Any]:
    """Up to k new sites for the category (maximal covering, existing facilities fixed): method, objective,
    bound and gap, and per site what it newly covers and which gaps it closes; with ``format`` also a
    download under ``/exports/``."""
    from circles.planning.sites import choose_sites

    res = state.result
    category = state.category_key(category)
    choice = choose_sites(res, category, k, state.site_candidates(), time_limit_s=20)
    body = choice.as_dict()
    if format is not None:
        path = safe_export_path(
            state.settings.export_dir, f"sites_{category}_k{k}_{uuid.uuid4().hex[:8]}.{format}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        export(res, path, sites=choice)
        body["download"] = f"/exports/{path.name}"
    return body


@router.get("/exports/{name}")
def download(state: State, name: Annotated[str, Path(max_length=128)]) -> FileResponse:
    """A file written by ``/sites?format=``; names can never leave the export directory."""
    path = safe_export_path(state.settings.export_dir, name)
    if not path.is_file():
        raise NotFoundError(f"no export {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[export_format(path)], filename=path.name)
