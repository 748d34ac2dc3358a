"""``/scenarios``: named what-if scenarios (proposed additions, moves and removals on top of the
baseline register, which they never change), their facilities, before/after numbers, comparison and
exports. ``scenario=`` on ``/coverage``, ``/gaps`` and ``/sites`` answers under a scenario."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse, Response

from circles.planning.queries import resolve_district_in

from ..access import Writer
from ..dependencies import (
    CategoryKey,
    District,
    GeoJSONResponse,
    IdempotencyKey,
    Minutes,
    OptionalCategoryKey,
    State,
    answer_response,
    idempotency,
)
from ..scenario_delta import compare_body, delta_body
from ..scenario_export import scenario_gpkg, scenario_xlsx
from ..scenarios import Scenarios
from ..schemas import (
    Change,
    ChangeUndone,
    Scenario,
    ScenarioChangeIn,
    ScenarioComparison,
    ScenarioDeleted,
    ScenarioDelta,
    ScenarioIn,
    ScenarioPage,
)
from ..strict_json import StrictJSONRoute
from ..tables import feature_collection
from .facilities import WRITE_RESPONSES

router = APIRouter(tags=["scenarios"], route_class=StrictJSONRoute)

ScenarioPath = Annotated[str, Path(max_length=64, description="a scenario id from /scenarios")]
#: a side of a comparison: a scenario id or ``baseline``
Side = Annotated[str, Query(min_length=1, max_length=64, description="a scenario id, or baseline")]


@router.post(
    "/scenarios", response_model=Scenario, status_code=status.HTTP_201_CREATED, responses=WRITE_RESPONSES
)
def create_scenario(
    state: State, writer: Writer, body: ScenarioIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A new, empty scenario (409 when the name is taken). It is stored durably with an audit entry;
    the baseline register is never changed by it. With an ``Idempotency-Key``, a retry answers the
    first answer and creates nothing."""
    idem = idempotency(idempotency_key, "POST /scenarios", body.model_dump_json())
    return answer_response(Scenarios(state).create(body.name, body.description, actor=writer, idem=idem))


@router.get("/scenarios", response_model=ScenarioPage)
def list_scenarios(state: State) -> dict[str, Any]:
    """Every scenario with its changes, oldest first."""
    items = [s.view() for s in Scenarios(state).all()]
    return {"items": items, "total": len(items)}


@router.get("/scenarios/compare", response_model=ScenarioComparison)
def compare_scenarios(
    state: State,
    a: Side,
    b: Side,
    category: CategoryKey,
    minutes: Minutes = None,
    district: District = None,
) -> dict[str, Any]:
    """Two scenarios (or one and ``baseline``) side by side: each one's numbers against the baseline
    for one category."""
    scenarios = Scenarios(state)
    pub = state.current()
    base = scenarios.view(None, pub)
    key = state.category_key(category)
    dist = resolve_district_in(base.result, district) if district is not None else None
    side_a = scenarios.view(None if a == "baseline" else a, pub)
    side_b = scenarios.view(None if b == "baseline" else b, pub)
    return compare_body(base, side_a, side_b, key, minutes, dist)


@router.get("/scenarios/{scenario_id}", response_model=Scenario)
def get_scenario(state: State, scenario_id: ScenarioPath) -> dict[str, Any]:
    """A scenario and its changes in order (404 when unknown)."""
    return Scenarios(state).get(scenario_id).view()


@router.delete("/scenarios/{scenario_id}", response_model=ScenarioDeleted, responses=WRITE_RESPONSES)
def delete_scenario(
    state: State, writer: Writer, scenario_id: ScenarioPath, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Delete a scenario and its changes (audited; the baseline is untouched). With an
    ``Idempotency-Key``, a retry answers the first answer (not a 404)."""
    idem = idempotency(idempotency_key, f"DELETE /scenarios/{scenario_id}")
    return answer_response(Scenarios(state).delete(scenario_id, actor=writer, idem=idem))


@router.post(
    "/scenarios/{scenario_id}/facilities",
    response_model=Change,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_RESPONSES,
)
def change_scenario(
    state: State,
    writer: Writer,
    scenario_id: ScenarioPath,
    body: ScenarioChangeIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Propose a change: ``add`` a facility (WGS84 lon/lat; it gets the id ``p<change_id>``), ``move``
    or ``remove`` one (a register id as in /facilities, or a proposed ``p<change_id>``). 404 for an
    unknown scenario or facility, 422 for a place outside the region or far from any street. With an
    ``Idempotency-Key``, a retry answers the first answer and adds no second change."""
    idem = idempotency(idempotency_key, f"POST /scenarios/{scenario_id}/facilities", body.model_dump_json())
    return answer_response(Scenarios(state).change(scenario_id, body.model_dump(), actor=writer, idem=idem))


@router.delete(
    "/scenarios/{scenario_id}/facilities/{change_id}", response_model=ChangeUndone, responses=WRITE_RESPONSES
)
def undo_change(
    state: State,
    writer: Writer,
    scenario_id: ScenarioPath,
    change_id: Annotated[int, Path(ge=1, le=2**62)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Undo one change of the scenario (409 when later changes move or remove what it proposed). With
    an ``Idempotency-Key``, a retry answers the first answer (not a 404)."""
    idem = idempotency(idempotency_key, f"DELETE /scenarios/{scenario_id}/facilities/{change_id}")
    return answer_response(Scenarios(state).undo(scenario_id, change_id, actor=writer, idem=idem))


@router.get("/scenarios/{scenario_id}/facilities", response_class=GeoJSONResponse)
def scenario_facilities(
    state: State, scenario_id: ScenarioPath, category: OptionalCategoryKey = None
) -> Response:
    """The facilities in effect under the scenario (WGS84 points): the register with the changes
    replayed; ``status`` baseline, proposed, moved (with ``from_lon``/``from_lat``) or removed (listed
    at their place)."""
    scenarios = Scenarios(state)
    fac = scenarios.in_effect(scenarios.get(scenario_id)).listing
    if category is not None:
        fac = fac[fac["category"] == state.category_key(category)]
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(r.geometry.x, 7), round(r.geometry.y, 7)]},
            "properties": {
                "id": str(r.facility_id),
                "category": str(r.category),
                "name": "" if r.name is None else str(r.name),
                "source": str(r.source),
                "status": str(r.status),
                **(
                    {"from_lon": round(float(r.from_lon), 7), "from_lat": round(float(r.from_lat), 7)}
                    if r.status == "moved"
                    else {}
                ),
            },
        }
        for r in fac.itertuples()
    ]
    return feature_collection(feats, len(feats), scenario=scenario_id)


@router.get("/scenarios/{scenario_id}/delta", response_model=ScenarioDelta)
def scenario_delta(
    state: State,
    scenario_id: ScenarioPath,
    category: CategoryKey,
    minutes: Minutes = None,
    district: District = None,
) -> dict[str, Any]:
    """Before/after for one category: communities short of the target (``gaps_closed`` equals the
    difference of the ``/gaps?kind=coverage`` totals without and with ``scenario=``) and residents
    newly covered, in total and per district."""
    scenarios = Scenarios(state)
    pub = state.current()
    base = scenarios.view(None, pub)
    other = scenarios.view(scenario_id, pub)
    key = state.category_key(category)
    dist = resolve_district_in(base.result, district) if district is not None else None
    return delta_body(base, other, key, minutes, dist)


@router.get(
    "/scenarios/{scenario_id}/export",
    responses={
        200: {
            "content": {
                "application/geopackage+sqlite3": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
def export_scenario(
    state: State,
    scenario_id: ScenarioPath,
    format: Annotated[Literal["gpkg", "xlsx"], Query()] = "gpkg",
    category: OptionalCategoryKey = None,
) -> Response:
    """The scenario as a GeoPackage (facilities in effect with status, the gaps under the scenario
    with community polygons, the changes, export facts) or an Excel workbook (gaps, changes,
    facilities, README). WGS84; © OpenStreetMap contributors."""
    view = Scenarios(state).view(scenario_id)
    key = state.category_key(category) if category is not None else None
    return scenario_gpkg(view, key) if format == "gpkg" else scenario_xlsx(view, key)
