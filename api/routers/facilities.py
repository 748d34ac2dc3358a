"""``/facilities``: the facility register, with durable edits."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from ..dependencies import get_state
from ..schemas import FacilityCreated, FacilityDeleted, FacilityIn, FacilityPage, clean
from ..state import ServiceState

router = APIRouter(tags=["facilities"])
State = Annotated[ServiceState, Depends(get_state)]


@router.get("/facilities", response_model=FacilityPage)
def list_facilities(
    state: State,
    category: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[Literal["osm", "sample", "user"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FacilityPage:
    """Facilities (WGS84): OSM, SAMPLE (authored, not observed) and user-added ones."""
    fac = state.result.data.facilities
    if category is not None:
        state.result.data.catalog.get(category)
        fac = fac[fac["category"] == category]
    if source is not None:
        fac = fac[fac["source"] == source]
    page = fac.iloc[offset : offset + limit]
    items = [
        {
            "facility_id": str(r.facility_id),
            "category": r.category,
            "name": str(r.name),
            "floor_area_m2": clean(r.floor_area_m2),
            "lon": round(r.geometry.x, 7),
            "lat": round(r.geometry.y, 7),
            "source": str(r.source),
        }
        for r in page.itertuples()
    ]
    return FacilityPage(total=len(fac), limit=limit, offset=offset, items=items)


@router.post("/facilities", response_model=FacilityCreated, status_code=status.HTTP_201_CREATED)
def add_facility(state: State, body: FacilityIn) -> FacilityCreated:
    """Add one facility; it is stored durably and the coverage and gaps of its category are updated."""
    record, n = state.add_facility(body.category, body.lon, body.lat, body.crs, body.name, body.floor_area_m2)
    return FacilityCreated(facility=record, communities_affected=n)


@router.delete("/facilities/{facility_id}", response_model=FacilityDeleted)
def delete_facility(state: State, facility_id: Annotated[str, Path(max_length=128)]) -> FacilityDeleted:
    """Remove a facility (a user-added one, or mark an OSM/sample one as gone); coverage is updated."""
    n = state.delete_facility(facility_id)
    return FacilityDeleted(facility_id=facility_id, communities_affected=n)
