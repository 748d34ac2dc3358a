"""``/healthz`` and ``/categories``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from circles import OSM_ATTRIBUTION

from ..dependencies import get_state
from ..schemas import Category, Health
from ..state import ServiceState

router = APIRouter(tags=["meta"])


@router.get("/healthz", response_model=Health)
def healthz(state: Annotated[ServiceState, Depends(get_state)]) -> Health:
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
def categories(state: Annotated[ServiceState, Depends(get_state)]) -> list[dict]:
    """The facility catalog: levels, thresholds per community type, OSM tags and sources."""
    return state.result.data.catalog.to_records()
