"""A scenario as files: a GeoPackage (facilities in effect with their status, the gap list under the
scenario with community polygons, the changes, facts about the export) and an Excel workbook (the gap
list, the changes and the facilities, with the README sheet of the plan). WGS84; every layer and the
README credit © OpenStreetMap contributors; SAMPLE facilities keep ``source = sample``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from fastapi.responses import Response

from circles import OSM_ATTRIBUTION
from circles.errors import InputError
from circles.outputs.export import MEDIA_TYPES
from circles.outputs.tables import GAP_COLUMNS, Column, Sheet

from .scenarios import InEffect, PlanView, Scenario, Scenarios, change_view, workbook_text
from .tables import query_lines, xlsx_response

__all__ = ["FACILITY_SHEET_COLUMNS", "scenario_gpkg", "scenario_xlsx"]

FACILITY_SHEET_COLUMNS: tuple[Column, ...] = (
    Column("facility_id", "facility_id", "设施编号", "facility id"),
    Column("category", "category", "设施类别", "category"),
    Column("name", "name", "名称", "name"),
    Column("source", "source", "来源", "source (osm/sample/user/proposed)"),
    Column("status", "status", "方案状态", "status (baseline/proposed/moved/removed)"),
    Column("lon", "lon", "经度", "longitude (WGS84)", "number"),
    Column("lat", "lat", "纬度", "latitude (WGS84)", "number"),
)
CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("change_id", "change_id", "变更编号", "change id", "int"),
    Column("action", "action", "操作", "action (add/move/remove)"),
    Column("facility_id", "facility_id", "设施编号", "facility id"),
    Column("category", "category", "设施类别", "category"),
    Column("name", "name", "名称", "name"),
    Column("lon", "lon", "经度", "longitude (WGS84)", "number"),
    Column("lat", "lat", "纬度", "latitude (WGS84)", "number"),
    Column("created_at", "created_at", "时间(UTC)", "time (UTC)"),
)
#: gap columns written to the GeoPackage (the workbook's, machine names)
GAP_FIELDS = [c.source for c in GAP_COLUMNS]


def _scenario_of(view: PlanView) -> Scenario:
    if view.scenario is None:
        raise InputError("an export of a scenario needs a scenario's plan")
    return view.scenario


def _facilities(effect: InEffect) -> gpd.GeoDataFrame:
    """The facilities in effect and the removed ones, with ``status`` and WGS84 ``lon``/``lat``."""
    fac = effect.listing.copy()
    fac["lon"] = fac.geometry.x.round(7)
    fac["lat"] = fac.geometry.y.round(7)
    fac["name"] = fac["name"].fillna("").astype(str)
    fac["attribution"] = OSM_ATTRIBUTION
    return fac


def _changes(scenario: Scenario) -> pd.DataFrame:
    rows = [change_view(c) for c in scenario.changes]
    return pd.DataFrame(rows, columns=[c.source for c in CHANGE_COLUMNS])


def _gaps(view: PlanView, category: str | None) -> gpd.GeoDataFrame:
    """The gap list under the scenario (``category`` only when given) with community polygons."""
    gaps = view.gap_index(None).gaps
    if category is not None:
        gaps = gaps[gaps["category"] == category]
    geom = view.result.data.communities.set_index("community_id")["geometry"]
    frame = gaps[[c for c in GAP_FIELDS if c in gaps]].reset_index(drop=True)
    frame["attribution"] = OSM_ATTRIBUTION
    return gpd.GeoDataFrame(frame, geometry=geom.reindex(gaps["community_id"]).to_numpy(), crs=4326)


def _info(view: PlanView, scenario: Scenario, effect: InEffect, category: str | None) -> dict[str, str]:
    summary = view.result.summary
    sample = int((effect.listing["source"] == "sample").sum())
    return {
        "attribution": f"Map data {OSM_ATTRIBUTION} (ODbL)",
        "scenario_id": scenario.id,
        "scenario_name": scenario.name,
        "scenario_description": str(scenario.row["description"] or ""),
        "scenario_revision": str(scenario.revision),
        "baseline_revision": str(view.revision),
        "changes": str(len(scenario.changes)),
        "changes_skipped": ", ".join(map(str, effect.skipped)) or "none",
        "category": category or "all",
        "region": f"{summary.get('region_name', '')} ({summary.get('region', '')})",
        "weighting": str(summary.get("weighting", "")),
        "crs": "EPSG:4326 (WGS84 degrees)",
        "sample_data": (
            f"{sample} facilities are SAMPLE data (source = sample, names marked （示例）), not observed"
            if sample
            else "no sample data"
        ),
        "note": "a scenario is a proposal: the baseline register is unchanged",
    }


def scenario_gpkg(view: PlanView, category: str | None) -> Response:
    """The scenario as a GeoPackage download (layers ``facilities``, ``gaps``, ``changes``,
    ``export_info``)."""
    import pyogrio

    scenario = _scenario_of(view)
    effect = Scenarios(view.state).in_effect(scenario)
    layers: list[tuple[str, Any, dict[str, Any]]] = [
        ("facilities", _facilities(effect), {"geometry_type": "Point"}),
        ("gaps", _gaps(view, category), {"geometry_type": "Unknown"}),
        ("changes", _changes(scenario), {}),
        (
            "export_info",
            pd.DataFrame(list(_info(view, scenario, effect, category).items()), columns=["key", "value"]),
            {},
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="circles-scenario-") as folder:
        path = Path(folder) / "scenario.gpkg"
        for i, (name, frame, options) in enumerate(layers):
            pyogrio.write_dataframe(
                frame,
                path,
                layer=name,
                driver="GPKG",
                layer_options={"DESCRIPTION": f"scenario {scenario.name}: {name}. {OSM_ATTRIBUTION} (ODbL)"},
                dataset_options={"VERSION": "1.2"} if i == 0 else None,
                **options,
            )
        content = path.read_bytes()
    return Response(
        content,
        media_type=MEDIA_TYPES["gpkg"],
        headers={"Content-Disposition": f'attachment; filename="scenario_{scenario.id}.gpkg"'},
    )


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the text of its text columns fit for workbook cells (:func:`workbook_text`)."""
    out = pd.DataFrame(frame).copy()
    for col in out.select_dtypes(include=["object", "string"]).columns:
        out[col] = [workbook_text(v) if isinstance(v, str) else v for v in out[col]]
    return out


def scenario_xlsx(view: PlanView, category: str | None) -> Response:
    """The scenario as an Excel workbook: README, the gap list under it, its changes, the facilities
    (text without the control characters a cell cannot hold)."""
    scenario = _scenario_of(view)
    effect = Scenarios(view.state).in_effect(scenario)
    gaps = _gaps(view, category)
    sheets = [
        Sheet("缺失清单 gaps", _cells(gaps.drop(columns="geometry")), GAP_COLUMNS),
        Sheet("方案变更 changes", _cells(_changes(scenario)), CHANGE_COLUMNS),
        Sheet(
            "设施 facilities", _cells(_facilities(effect).drop(columns="geometry")), FACILITY_SHEET_COLUMNS
        ),
    ]
    info = _info(view, scenario, effect, category)
    query = [
        *view.readme_lines(),
        *query_lines(category=category),
        f"sample data 示例数据: {info['sample_data']}",
    ]
    return xlsx_response(view.result, sheets, query, f"scenario_{scenario.id}", len(gaps))
