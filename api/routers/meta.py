"""``/healthz`` and ``/categories``."""

from __future__ import annotations

from fastapi import APIRouter

from circles import OSM_ATTRIBUTION

from ..dependencies import State
from ..schemas import Category, Health

router = APIRouter(tags=["meta"])


@router.get("/healthz", response_model=Health)
def healthz(state: State) -> Health:
    res = state.result
    return Health(
        status="ok",
        region=res.data.region.key,
        communities=len(res.data.communities),
        facilities=len(res.data.facilities),
        weight_kind=res.data.weight_kind,
        attribution=OSM_ATTRIBUTION,
    )


@router.get("/categories", response_model=list[Category])
def categories(state: State) -> list[dict]:
    """The facility catalog: levels, thresholds per community type, OSM tags and sources."""
    return state.result.data.catalog.to_records()
