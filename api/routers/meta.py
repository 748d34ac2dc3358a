"""``/healthz`` and ``/categories``."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Request

from circles import OSM_ATTRIBUTION

from ..dependencies import State
from ..read_tables import categories as catalog_rows
from ..schemas import Category, Health
from ..state import ServiceState
from ..strict_json import StrictJSONRoute

router = APIRouter(tags=["meta"], route_class=StrictJSONRoute)


@router.get("/healthz", response_model=Health)
async def healthz(request: Request, background: BackgroundTasks) -> Health:
    """Whether the service is up, answered on the event loop without a worker thread, so it answers at
    once while heavy requests (maps, sites, imports) keep every worker thread busy. When another
    worker process has edited the store since, this one catches up after answering."""
    state: ServiceState = request.app.state.service
    published = state.current()
    store_revision = state.store.revision()
    if store_revision != published.revision:
        background.add_task(anyio.to_thread.run_sync, state.refresh)
    res = published.result
    return Health(
        status="ok",
        region=res.data.region.key,
        communities=len(res.data.communities),
        facilities=len(res.data.facilities),
        weight_kind=res.data.weight_kind,
        attribution=OSM_ATTRIBUTION,
        revision=published.revision,
        store_revision=store_revision,
        measure=res.data.measure,
    )


@router.get("/categories", response_model=list[Category])
async def categories(state: State) -> list[Category]:
    """The facility catalog: levels, thresholds per community type, OSM tags and sources."""
    return catalog_rows(state.result)  # on the event loop: validated once per published plan
