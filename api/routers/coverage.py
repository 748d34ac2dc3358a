"""``/coverage`` and ``/gaps``: the coverage layer and the gap list, within any minutes, rolled up per
社区 / 街道 / 区, as JSON, GeoJSON, CSV or Excel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio.to_thread
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from circles.errors import InputError
from circles.outputs.layers import service_area_layer
from circles.outputs.tables import COVERAGE_COLUMNS, GAP_COLUMNS, Sheet
from circles.pipeline import PlanResult
from circles.planning.coverage import share_within
from circles.planning.queries import (
    coverage_at,
    district_names,
    labelled_coverage,
    planned_categories,
    present_levels,
    resolve_district_in,
    rollup_at,
)
from circles.planning.summary import WEIGHT_LABELS

from ..dependencies import (
    CategoryKey,
    District,
    GeoJSONResponse,
    GroupBy,
    Minutes,
    OptionalCategoryKey,
    Page,
    State,
    page_params,
)
from ..gap_index import GapIndex, page_json
from ..scenario_deps import ScenarioPlan
from ..schemas import GapPage, RollupPage
from ..strict_json import StrictJSONRoute
from ..tables import (
    csv_response,
    feature_collection,
    group_features,
    query_lines,
    records,
    rollup_sheet,
    xlsx_response,
)

router = APIRouter(tags=["coverage"], route_class=StrictJSONRoute)

GapFormat = Literal["json", "geojson", "csv", "xlsx"]
CoverageFormat = Literal["geojson", "csv", "xlsx"]
FILE_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/geo+json": {},
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        }
    }
}


def _members(res: PlanResult, district: str | None) -> np.ndarray | None:
    """Mask of the community rows in ``district`` (an official name), or None for all."""
    if district is None:
        return None
    return np.asarray(district_names(res.data.communities["district"]) == district, dtype=bool)


@router.get("/coverage", response_class=GeoJSONResponse, responses=FILE_CONTENT)
def coverage(
    state: State,
    view: ScenarioPlan,
    category: CategoryKey,
    minutes: Minutes = None,
    district: District = None,
    group_by: GroupBy = None,
    format: Annotated[CoverageFormat, Query()] = "geojson",
) -> Response:
    """The area within ``minutes`` of the nearest facility of ``category`` (walking; default the
    category's urban threshold) and every community with the share of its residents (or area) inside
    it (each community judged by its own profile). ``group_by``: features per 社区 / 街道 / 区 (the
    union of their communities) with members short of the target and the worst ones. ``format=csv`` /
    ``xlsx``: the coverage table (and roll-up) instead. ``scenario``: as if its changes were applied."""
    res = view.result
    key = state.category_key(category)
    dist = resolve_district_in(res, district) if district is not None else None
    members = _members(res, dist)
    if format != "geojson":
        return _coverage_file(res, key, minutes, dist, members, group_by, format)
    cat = res.data.catalog.get(key)
    m = float(minutes) if minutes is not None else cat.threshold_min("urban")
    area = service_area_layer(res, key, [m])
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {
                "kind": "service_area",
                "category": key,
                "minutes": m,
                "area_m2": float(area["area_m2"].iloc[0]),
            },
            "geometry": json.loads(area.to_json(drop_id=True))["features"][0]["geometry"],
        }
    ]
    if group_by is not None:
        table = rollup_at(res, group_by, [key], minutes=m, rows=members)
        feats += group_features(res, group_by, table, members)
    else:
        feats += _community_features(res, key, m, members)
    return feature_collection(
        feats,
        len(feats) - 1,
        weighting=WEIGHT_LABELS.get(res.data.weight_kind),
        weight_kind=res.data.weight_kind,
    )


def _community_features(
    res: PlanResult, key: str, minutes: float, members: np.ndarray | None
) -> list[dict[str, Any]]:
    comm = res.data.communities
    cat = res.data.catalog.get(key)
    types = comm["type"].to_numpy().astype(str)
    share = share_within(res.times[key], res.engine.points, types, minutes)
    rows = np.arange(len(comm)) if members is None else np.flatnonzero(members)
    geo = json.loads(comm.iloc[rows][["geometry"]].to_json(drop_id=True))["features"] if len(rows) else []
    return [
        {
            "type": "Feature",
            "geometry": g["geometry"],
            "properties": {
                "kind": "community",
                "community_id": str(comm["community_id"].iat[i]),
                "name": str(comm["name"].iat[i]),
                "type": str(types[i]),
                "covered_share": None if not np.isfinite(share[i]) else round(float(share[i]), 4),
                "applies": bool(cat.applies(str(types[i]))),
            },
        }
        for i, g in zip(rows, geo)
    ]


def _coverage_file(
    res: PlanResult,
    key: str,
    minutes: float | None,
    district: str | None,
    members: np.ndarray | None,
    group_by: str | None,
    format: str,
) -> Response:
    rows = coverage_at(res, key, minutes)
    if members is not None:
        rows = rows[members[rows["community_row"].to_numpy(dtype=np.int64)]]
    table = labelled_coverage(res, rows)
    if format == "csv":
        if group_by is not None:
            rolled = rollup_at(res, group_by, [key], minutes=minutes, rows=members)
            return csv_response(
                rolled, rollup_sheet(group_by, rolled).columns, f"coverage_{key}_{group_by}", len(rolled)
            )
        return csv_response(table, COVERAGE_COLUMNS, f"coverage_{key}", len(table))
    levels = [group_by] if group_by is not None else present_levels(res)
    sheets = [Sheet("覆盖 coverage", table, COVERAGE_COLUMNS)]
    sheets += [rollup_sheet(lv, rollup_at(res, lv, [key], minutes=minutes, rows=members)) for lv in levels]
    query = query_lines(category=key, minutes=minutes, district=district, group_by=group_by)
    return xlsx_response(res, sheets, query, f"coverage_{key}", len(table))


@dataclass(frozen=True)
class GapQuery:
    """The filters of one ``/gaps`` request, resolved (category key, official district name)."""

    category: str | None
    level: int | None
    minutes: float | None
    district: str | None
    kind: str | None
    min_residents: float | None
    min_area_m2: float | None

    def describe(self, group_by: str | None) -> list[str]:
        return query_lines(
            category=self.category,
            level=self.level,
            minutes=self.minutes,
            district=self.district,
            kind=self.kind,
            min_residents=self.min_residents,
            min_area_m2=self.min_area_m2,
            group_by=group_by,
        )


@router.get("/gaps", response_model=GapPage | RollupPage, responses=FILE_CONTENT)
async def gaps(
    state: State,
    view: ScenarioPlan,
    *,
    category: OptionalCategoryKey = None,
    level: Annotated[
        int | None,
        Query(
            ge=5,
            le=15,
            description="service circle: 5, 10 or 15 minutes",
            json_schema_extra={"enum": [5, 10, 15]},
        ),
    ] = None,
    minutes: Minutes = None,
    district: District = None,
    kind: Annotated[Literal["coverage", "capacity"] | None, Query()] = None,
    min_residents: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    min_area_m2: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    group_by: GroupBy = None,
    page: Annotated[Page, Depends(page_params(50))],
    format: Annotated[GapFormat, Query()] = "json",
) -> Response:
    """The gap list (配套缺失清单), most severe first, filtered and paginated; ``total`` counts all
    matches. ``minutes``: communities whose covered share within N minutes is below target ("which
    communities lack a canteen within 10 minutes"). ``group_by``: the coverage of the matching
    categories rolled up per 小区 / 社区 / 街道 / 区 (a :class:`RollupPage`), most uncovered first.
    ``format``: JSON, GeoJSON, CSV (UTF-8 with BOM) or an Excel workbook (with a sheet per level).
    ``scenario``: as if its changes were applied (see /scenarios)."""
    res = view.result
    q = GapQuery(
        category=state.category_key(category) if category is not None else None,
        level=level,
        minutes=minutes,
        district=resolve_district_in(res, district) if district is not None else None,
        kind=kind,
        min_residents=min_residents,
        min_area_m2=min_area_m2,
    )
    if group_by is not None:
        return await anyio.to_thread.run_sync(_rollup_answer, res, q, group_by, page, format)
    # built once per published plan, in a worker thread (the event loop keeps answering meanwhile)
    idx = view.cached_gap_index(minutes)
    if idx is None:
        idx = await anyio.to_thread.run_sync(view.gap_index, minutes)
    rows = idx.matching(
        category=q.category,
        level=q.level,
        district=q.district,
        kind=q.kind,
        min_residents=q.min_residents,
        min_area_m2=q.min_area_m2,
    )
    total = len(rows)
    rows = rows[page.slice()]
    if format == "json":  # the hot path: rows encoded once per plan, no DataFrame, no second validation
        body = page_json(
            idx.items_json(rows),
            total=total,
            limit=page.limit,
            offset=page.offset,
            weighting=WEIGHT_LABELS.get(idx.result.data.weight_kind, ""),
        )
        return Response(body, media_type="application/json")
    return await anyio.to_thread.run_sync(_gaps_file, idx, q, rows, format, total, page)


def _gaps_file(
    idx: GapIndex, q: GapQuery, rows: np.ndarray, format: GapFormat, total: int, page: Page
) -> Response:
    """CSV, Excel or GeoJSON page of the gap list (in a worker thread: geometry and files are CPU work)."""
    res = idx.result
    selected = idx.gaps.iloc[rows]
    if format == "csv":
        return csv_response(selected, GAP_COLUMNS, "gaps", total)
    if format == "xlsx":
        cats = _categories(res, q)
        members = _members(res, q.district)
        sheets = [Sheet("缺失清单 gaps", selected, GAP_COLUMNS)]
        sheets += [
            rollup_sheet(lv, rollup_at(res, lv, cats, minutes=q.minutes, rows=members))
            for lv in present_levels(res)
        ]
        return xlsx_response(res, sheets, q.describe(None), "gaps", total)
    geom = res.data.communities.set_index("community_id")["geometry"]
    gj = (
        json.loads(geom.reindex(selected["community_id"]).reset_index(drop=True).to_json(drop_id=True))
        if len(selected)
        else {"features": []}
    )
    feats = [
        {"type": "Feature", "geometry": f["geometry"], "properties": p}
        for f, p in zip(gj["features"], records(selected))
    ]
    return feature_collection(feats, total, total=total, limit=page.limit, offset=page.offset)


def _categories(res: PlanResult, q: GapQuery) -> list[str]:
    """The categories a query covers: the one given, else those of its level, else all planned."""
    if q.category is not None:
        return [q.category]
    if q.level is not None and q.level not in (5, 10, 15):
        raise InputError(f"level must be 5, 10 or 15 (minutes), got {q.level}")
    catalog = res.data.catalog
    return [k for k in planned_categories(res) if q.level is None or catalog.get(k).level_min == q.level]


def _rollup_rows(res: PlanResult, q: GapQuery, group_by: str) -> pd.DataFrame:
    """The roll-up of the query's categories within its minutes over its district, filtered by the
    uncovered weight asked for."""
    if q.kind == "capacity":
        raise InputError("roll-ups sum coverage: kind=capacity has none; leave kind out or use kind=coverage")
    people = res.data.weight_kind != "area"
    if q.min_residents is not None and not people:
        raise InputError("min_residents needs population data; this region is area-weighted: use min_area_m2")
    if q.min_area_m2 is not None and people:
        raise InputError("this plan's roll-ups count residents, not area: use min_residents")
    table = rollup_at(res, group_by, _categories(res, q), minutes=q.minutes, rows=_members(res, q.district))
    floor = q.min_residents if q.min_residents is not None else q.min_area_m2
    if floor is not None and len(table):
        table = table[table["uncovered_weight"] >= floor]
    return table.reset_index(drop=True)


def _rollup_answer(res: PlanResult, q: GapQuery, group_by: str, page: Page, format: GapFormat) -> Response:
    table = _rollup_rows(res, q, group_by)
    total = len(table)
    shown = table.iloc[page.slice()]
    if format == "csv":
        return csv_response(shown, rollup_sheet(group_by, shown).columns, f"gaps_{group_by}", total)
    if format == "xlsx":
        return xlsx_response(
            res, [rollup_sheet(group_by, shown)], q.describe(group_by), f"gaps_{group_by}", total
        )
    if format == "geojson":
        feats = group_features(res, group_by, shown, _members(res, q.district))
        return feature_collection(
            feats, total, total=total, limit=page.limit, offset=page.offset, group_by=group_by
        )
    body = {
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "group_by": group_by,
        "minutes": q.minutes,
        "weight_kind": res.data.weight_kind,
        "weighting": WEIGHT_LABELS.get(res.data.weight_kind, ""),
        "items": records(shown),
    }
    return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type="application/json")
