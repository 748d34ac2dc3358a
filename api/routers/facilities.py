"""``/facilities``: the facility register, with durable, audited, restorable edits."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse

from ..access import Writer
from ..dependencies import IdempotencyKey, ListPage, OptionalCategoryKey, State, answer_response, idempotency
from ..read_tables import facility_table
from ..schemas import (
    DeletedFacility,
    DeletedFacilityPage,
    FacilityCreated,
    FacilityDeleted,
    FacilityIn,
    FacilityPage,
    FacilityRestored,
)
from ..strict_json import StrictJSONRoute

router = APIRouter(tags=["facilities"], route_class=StrictJSONRoute)

WRITE_RESPONSES: dict[int | str, dict] = {
    401: {"description": "the service has write tokens and none was sent"},
    403: {"description": "a wrong token, or a remote client on a service without tokens"},
}
FacilityId = Annotated[str, Path(max_length=128)]


@router.get("/facilities", response_model=FacilityPage)
async def list_facilities(
    state: State,
    *,
    category: OptionalCategoryKey = None,
    source: Annotated[Literal["osm", "sample", "user"] | None, Query()] = None,
    page: ListPage,
) -> FacilityPage:
    """Facilities (WGS84): OSM, SAMPLE (authored, not observed) and user-added ones."""
    # on the event loop: the filter columns and the validated rows are built once per published plan
    res = state.result
    key = state.category_key(category) if category is not None else None
    table = facility_table(res)
    rows = table.matching(key, source)
    items = table.page(rows[page.slice()])
    return FacilityPage(total=len(rows), limit=page.limit, offset=page.offset, items=items)


@router.post(
    "/facilities",
    response_model=FacilityCreated,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_RESPONSES,
)
def add_facility(
    state: State, writer: Writer, body: FacilityIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Add one facility (``category`` by key, Chinese name or alias); it is stored durably (with an
    audit entry) and the coverage and gaps of its category are updated. With an ``Idempotency-Key``, a
    retry answers the first answer and adds nothing."""
    idem = idempotency(idempotency_key, "POST /facilities", body.model_dump_json())
    answer = state.add_facility(
        body.category,
        body.lon,
        body.lat,
        body.crs,
        body.name,
        body.floor_area_m2,
        actor=writer,
        idem=idem,
    )
    return answer_response(answer)


@router.get("/facilities/deleted", response_model=DeletedFacilityPage)
def deleted_facilities(state: State, *, page: ListPage) -> DeletedFacilityPage:
    """Deleted user facilities and hidden base (OSM / sample) ones, newest first: each can be brought
    back with ``POST /facilities/{id}/restore``."""
    rows = state.deleted_facilities()
    items = [DeletedFacility.model_validate(r) for r in rows[page.slice()]]
    return DeletedFacilityPage(total=len(rows), limit=page.limit, offset=page.offset, items=items)


@router.delete("/facilities/{facility_id}", response_model=FacilityDeleted, responses=WRITE_RESPONSES)
def delete_facility(state: State, writer: Writer, facility_id: FacilityId) -> JSONResponse:
    """Remove a facility: a user-added one is deleted (kept, restorable), an OSM / sample one hidden
    (the base data is never changed; restorable). Coverage is updated."""
    return answer_response(state.delete_facility(facility_id, actor=writer))


@router.post("/facilities/{facility_id}/restore", response_model=FacilityRestored, responses=WRITE_RESPONSES)
def restore_facility(state: State, writer: Writer, facility_id: FacilityId) -> JSONResponse:
    """Bring back a deleted or hidden facility (see ``/facilities/deleted``); 409 when its id is in use
    again."""
    return answer_response(state.restore_facility(facility_id, actor=writer))
