"""``/maps/{region}.html``, ``/sites`` and ``/exports/{name}``: maps and files for planners and designers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from circles.outputs.export import MEDIA_TYPES, export, export_format, safe_export_path
from circles.outputs.export_crs import check_crs_spec

from ..access import actor_of
from ..dependencies import CategoryKey, OptionalCategoryKey, State
from ..disk import cached_file, export_name, prune_files
from ..errors import NotFoundError
from ..scenario_deps import ScenarioPlan
from ..scenarios import PlanView
from ..state import ServiceState
from ..strict_json import StrictJSONRoute
from .facilities import WRITE_RESPONSES

router = APIRouter(tags=["outputs"], route_class=StrictJSONRoute)

#: An export's file name as ``/sites`` gives it (the export folder's own rules are checked too).
ExportName = Annotated[
    str,
    Path(
        max_length=120,
        pattern=r"^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*\.(gpkg|shp\.zip|geojson|dxf)$",
        description="a file name from /sites?format=…",
    ),
]


@router.get("/maps/{region}.html", response_class=HTMLResponse)
def region_map(
    state: State,
    region: Annotated[str, Path(max_length=64)],
    category: OptionalCategoryKey = None,
    minutes: Annotated[int, Query(ge=5, le=15, multiple_of=5, description="5, 10 or 15")] = 10,
) -> HTMLResponse:
    """The coverage map (self-contained HTML, works offline; no base tiles)."""
    res = state.result
    if region != res.data.region.key:
        raise NotFoundError(f"this service serves region {res.data.region.key!r}, not {region!r}")
    key = state.category_key(category) if category is not None else None
    return HTMLResponse(state.map_html(key, minutes))


async def export_access(request: Request) -> None:
    """A 401/403 before any work when a download is asked (``format``) without write access: a
    scenario's plan is built only for a client that may have its file."""
    if request.query_params.get("format") is not None:
        actor_of(request)


@router.get("/sites", responses=WRITE_RESPONSES, dependencies=[Depends(export_access)])
async def sites(
    request: Request,
    state: State,
    view: ScenarioPlan,
    category: CategoryKey,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    format: Annotated[Literal["gpkg", "shp.zip", "geojson", "dxf"] | None, Query()] = None,
    crs: Annotated[
        str | None,
        Query(
            max_length=32,
            description="coordinate system of the download: wgs84 (default; DXF: cgcs2000-gk), cgcs2000, "
            "cgcs2000-gk (the region's CGCS2000 3-degree Gauss-Kruger zone), gcj02 (marked as such) "
            "or EPSG:n",
        ),
    ] = None,
) -> dict[str, Any]:
    """Up to k new sites for the category (maximal covering, existing facilities fixed): method, objective,
    bound and gap, and per site what it newly covers and which gaps it closes. With ``format`` also a
    download under ``/exports/`` (writing a file is a write: it needs the write token when the service
    has tokens); the same request at the same store revision returns the same file. ``scenario``: the
    sites for the plan with the scenario's changes applied (its proposed facilities held fixed too)."""
    if format is not None:
        actor_of(request)  # writing a file needs write access
        check_crs_spec(crs, format)  # a bad crs is a 422 before any work
    return await anyio.to_thread.run_sync(_sites, state, view, category, k, format, crs)


def _sites(
    state: ServiceState, view: PlanView, category: str, k: int, format: str | None, crs: str | None
) -> dict[str, Any]:
    res = view.result
    key = state.category_key(category)
    choice = state.site_choice(res, key, k)
    body: dict[str, Any] = choice.as_dict()
    if format is not None:
        settings = state.settings
        name = export_name(
            f"sites_{key}_k{k}",
            format,
            category=key,
            k=k,
            format=format,
            crs=crs or "",
            revision=view.revision,
            # under a scenario: its id and revision too (the baseline's names are unchanged)
            **({} if view.scenario is None else {"scenario": f"{view.scenario.id}@{view.scenario.revision}"}),
            store=state.store.store_id,
            plan=repr(settings.plan_options()),
            time_limit_s=settings.sites_time_limit_s,
        )
        path = safe_export_path(settings.export_dir, name)
        with state.export_lock:
            cached_file(path, lambda p: export(res, p, sites=choice, crs=crs))
            prune_files(
                settings.export_dir,
                max_bytes=settings.max_export_bytes,
                max_age_s=settings.max_export_age_s,
                keep=[path],
            )
        body["download"] = f"/exports/{path.name}"
    return body


@router.get("/exports/{name}")
def download(state: State, name: ExportName) -> FileResponse:
    """A file written by ``/sites?format=``; names can never leave the export directory. Exports are
    kept up to the service's size and age limits (least recently used deleted first): a 404 then
    means asking ``/sites`` again."""
    path = safe_export_path(state.settings.export_dir, name)
    if not path.is_file():
        raise NotFoundError(f"no export {name!r} (exports are kept for a while: ask /sites again)")
    return FileResponse(path, media_type=MEDIA_TYPES[export_format(path)], filename=path.name)
