"""``/imports``: bulk facility registers and community layers, validated in a dry run, applied on
confirmation (see :mod:`api.imports`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status
from fastapi.responses import JSONResponse

from ..access import Writer
from ..dependencies import IdempotencyKey, ListPage, State, answer_response, idempotency
from ..disk import prune_imports
from ..imports import apply_import, dry_run, get_import, import_view
from ..schemas import ImportApplied, ImportPage, ImportReport
from ..strict_json import StrictJSONRoute
from ..uploads import save_upload
from .facilities import WRITE_RESPONSES

router = APIRouter(tags=["imports"], route_class=StrictJSONRoute)

ImportId = Annotated[str, Path(max_length=64, description="id of an import (from its dry run)")]
CrsField = Annotated[
    str | None,
    Form(
        max_length=32,
        description="coordinate system of the file: wgs84 | cgcs2000 | gcj02 (高德/腾讯) | bd09 (百度) | "
        "EPSG:n; required for CSV/Excel tables, optional for GeoJSON/GeoPackage (they carry their own)",
    ),
]


def _upload(state: State, kind: str, file: UploadFile, crs: str | None, part: str | None) -> dict[str, Any]:
    upload = save_upload(
        state.settings.state_dir,
        kind,
        file.filename or "",
        file.file,
        crs=crs,
        part=part,
        max_bytes=state.settings.max_upload_bytes,
    )
    report = dry_run(state, upload)
    layer = state.store.active_communities()
    keep = {upload.import_id} | ({layer["import_id"]} if layer is not None else set())
    prune_imports(state.settings.imports_dir, max_bytes=state.settings.max_import_bytes, keep=keep)
    return report


@router.post(
    "/imports/facilities",
    response_model=ImportReport,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_RESPONSES,
)
def import_facilities(
    state: State,
    writer: Writer,
    file: Annotated[
        UploadFile, File(description="facility register: CSV, XLSX, GeoJSON, GPKG or zipped Shapefile")
    ],
    crs: CrsField = None,
    sheet: Annotated[str | None, Form(max_length=100, description="Excel sheet or GeoPackage layer")] = None,
) -> dict[str, Any]:
    """Dry run of a facility register: the validation report (rows read, accepted, outside the region
    and dropped, refused and why; per-category counts; the coordinate check's verdict). Nothing changes
    until ``POST /imports/{id}/apply``."""
    return _upload(state, "facilities", file, crs, sheet)


@router.post(
    "/imports/communities",
    response_model=ImportReport,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_RESPONSES,
)
def import_communities(
    state: State,
    writer: Writer,
    file: Annotated[UploadFile, File(description="community polygons: GeoJSON, GPKG or zipped Shapefile")],
    crs: CrsField = None,
    layer: Annotated[str | None, Form(max_length=100, description="GeoPackage layer")] = None,
) -> dict[str, Any]:
    """Dry run of a community layer to replace the current one: communities read, the 社区/街道/区
    columns found, households or population, 社区/街道 names against the official 2023 lists, the
    coordinate check. Nothing changes until ``POST /imports/{id}/apply``."""
    return _upload(state, "communities", file, crs, layer)


@router.get("/imports", response_model=ImportPage)
def list_imports(state: State, *, page: ListPage) -> ImportPage:
    """Imports, newest first, with their reports and whether they were applied."""
    total, rows = state.store.list_imports(page.limit, page.offset)
    items = [ImportReport.model_validate(import_view(r)) for r in rows]
    return ImportPage(total=total, limit=page.limit, offset=page.offset, items=items)


@router.get("/imports/{import_id}", response_model=ImportReport)
def show_import(state: State, import_id: ImportId) -> dict[str, Any]:
    """The validation report of an import, and whether (and when) it was applied."""
    return import_view(get_import(state, import_id))


@router.post("/imports/{import_id}/apply", response_model=ImportApplied, responses=WRITE_RESPONSES)
def apply(
    state: State,
    writer: Writer,
    import_id: ImportId,
    force: Annotated[
        bool, Query(description="apply although the coordinate check refused the file (recorded)")
    ] = False,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Apply a dry-run import in one transaction: facilities become durable user facilities (only
    their categories are recomputed); a community layer replaces the current one durably and the plan
    is recomputed. 409 when applied already (a second apply changes nothing); 422 when there is nothing
    to apply or the coordinate check refused the file and ``force`` is not set. With an
    ``Idempotency-Key``, a retry answers the first answer (not a 409)."""
    idem = idempotency(idempotency_key, f"POST /imports/{import_id}/apply", f"force={force}")
    return answer_response(apply_import(state, import_id, force=force, actor=writer, idem=idem))
