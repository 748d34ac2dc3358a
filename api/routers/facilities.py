"""``/facilities``: the facility register, with durable edits."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from circles._common import jsonable

from ..dependencies import ListPage, OptionalCategoryKey, State
from ..schemas import Facility, FacilityCreated, FacilityDeleted, FacilityIn, FacilityPage

router = APIRouter(tags=["facilities"])


@router.get("/facilities", response_model=FacilityPage)
def list_facilities(
    state: State,
    *,
    category: OptionalCategoryKey = None,
    source: Annotated[Literal["osm", "sample", "user"] | None, Query()] = None,
    page: ListPage,
) -> FacilityPage:
    """Facilities (WGS84): OSM, SAMPLE (authored, not observed) and user-added ones."""
    fac = state.result.data.facilities
    if category is not None:
        fac = fac[fac["category"] == state.category_key(category)]
    if source is not None:
        fac = fac[fac["source"] == source]
    items = [
        Facility(
            facility_id=str(r.facility_id),
            category=str(r.category),
            name=str(r.name),
            floor_area_m2=jsonable(r.floor_area_m2),
            lon=round(r.geometry.x, 7),
            lat=round(r.geometry.y, 7),
            source=str(r.source),
        )
        for r in fac.iloc[page.slice()].itertuples()
    ]
    return FacilityPage(total=len(fac), limit=page.limit, offset=page.offset, items=items)


@router.post("/facilities", response_model=FacilityCreated, status_code=status.HTTP_201_CREATED)
def add_facility(state: State, body: FacilityIn) -> FacilityCreated:
    """Add one facility (``category`` by key, Chinese name or alias); it is stored durably and the
    coverage and gaps of its category are updated."""
    record, n = state.add_facility(body.category, body.lon, body.lat, body.crs, body.name, body.floor_area_m2)
    return FacilityCreated(facility=Facility.model_validate(record), communities_affected=n)


@router.delete("/facilities/{facility_id}", response_model=FacilityDeleted)
def delete_facility(state: State, facility_id: Annotated[str, Path(max_length=128)]) -> FacilityDeleted:
    """Remove a facility (a user-added one, or mark an OSM/sample one as gone); coverage is updated."""
    n = state.delete_facility(facility_id)
    return FacilityDeleted(facility_id=facility_id, communities_affected=n)
