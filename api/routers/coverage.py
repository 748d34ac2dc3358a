"""``/coverage`` and ``/gaps``: the coverage layer and the gap list, within any minutes, rolled up per
社区 / 街道 / 区, as JSON, GeoJSON, CSV or Excel."""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio.to_thread
import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from circles._common import jsonable
from circles.config import get_profile
from circles.errors import InputError
from circles.measures import DISTANCE_SUFFIX, distance_profile
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
from circles.routing.load import profile_graph

from ..dependencies import (
    CategoryKey,
    District,
    GeoJSONResponse,
    GroupBy,
    OptionalCategoryKey,
    Page,
    State,
    Threshold,
    Within,
    page_params,
    run_quick,
)
from ..gap_index import GapIndex, cached_gap_index, gap_index_of, page_json
from ..read_tables import MAX_CSV_ANSWERS, csv_text, gap_files, gap_geometry, plan_cache, remember
from ..scenario_deps import ScenarioPlan
from ..scenarios import PlanView
from ..schemas import GapPage, RollupPage
from ..strict_json import StrictJSONRoute
from ..tables import (
    csv_response,
    csv_text_response,
    feature_collection,
    feature_collection_text,
    group_features,
    query_lines,
    records,
    rollup_sheet,
    xlsx_response,
)

router = APIRouter(tags=["coverage"], route_class=StrictJSONRoute)

#: CSV and GeoJSON pages of ``/gaps`` up to this many rows are answered on the event loop (a row costs
#: ~15-40 µs to encode the first time, then a join); longer pages are encoded in a worker thread. The
#: coverage CSV of a layer of up to 5x as many communities is made on the event loop too (~6 ms for 179)
MAX_LOOP_ROWS = 200

#: the coverage table's distance-threshold column (metres), added to roll-up sheets that have one
THRESHOLD_M_COLUMN = next(c for c in COVERAGE_COLUMNS if c.source == "threshold_m")

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


def _threshold_meta(res: PlanResult, within: Threshold) -> dict[str, Any]:
    """``measure``, ``threshold_min`` and ``threshold_m`` of an answer judged ``within`` (the threshold
    asked; null: each category's own, in the plan's measure)."""
    return {
        "measure": within.measure or res.data.measure,
        "threshold_min": within.minutes,
        "threshold_m": within.walk_m,
    }


def _drawn_threshold(res: PlanResult, key: str, within: Threshold) -> Threshold:
    """The one threshold the service area of ``/coverage`` is drawn at: the one asked, else the
    category's urban threshold in the plan's measure (metres under ``distance``, when the category has
    a walking distance; else minutes)."""
    if within.given:
        return within
    cat = res.data.catalog.get(key)
    if res.data.measure == "distance" and cat.walk_m is not None:
        return Threshold(walk_m=cat.threshold_m("urban"))
    return Threshold(minutes=cat.threshold_min("urban"))


def _judged_threshold(res: PlanResult, drawn: Threshold, within: Threshold) -> Threshold:
    """What ``/coverage`` judges the communities by: the threshold asked; without one, a time plan's
    urban minutes for every community (as drawn), a distance plan's own rows (walking communities within
    their metres, rural ones within their bicycle minutes)."""
    if within.given or res.data.measure != "distance":
        return drawn
    return Threshold()


def _service_area(res: PlanResult, key: str, drawn: Threshold) -> gpd.GeoDataFrame:
    """The area within ``drawn`` of the nearest facility of ``key`` (EPSG:4326): minutes on the walk
    profile, or metres on its 1 m/s twin (:func:`circles.measures.distance_profile`: its "minutes" are
    metres / 60), cached on the result."""
    if drawn.walk_m is None:
        return service_area_layer(res, key, [float(drawn.minutes or 0.0)])
    name = "walk" + DISTANCE_SUFFIX
    if name not in res.data.graphs:  # a time plan: the twin's graph (built once per network)
        twin = profile_graph(res.data.net, distance_profile(get_profile("walk")))
        data = dataclasses.replace(res.data, graphs={**res.data.graphs, name: twin})
        res = dataclasses.replace(res, data=data)  # the same ``caches`` dict: the area is cached on ``res``
    return service_area_layer(res, key, [drawn.walk_m / 60.0], profile=name)


@router.get("/coverage", response_class=GeoJSONResponse, responses=FILE_CONTENT)
async def coverage(
    state: State,
    view: ScenarioPlan,
    category: CategoryKey,
    within: Within,
    district: District = None,
    group_by: GroupBy = None,
    format: Annotated[CoverageFormat, Query()] = "geojson",
) -> Response:
    """The area within ``minutes`` (or ``walk_m`` metres of network walking distance, not both) of the
    nearest facility of ``category`` (walking; default the category's urban threshold in the service's
    measure: minutes, or metres under ``distance``) and every community with the share of its residents
    (or area) inside it (each community judged by its own profile; a distance service without a
    threshold asked: each community by its own threshold, rural ones in bicycle minutes). Every feature
    and the collection say the ``measure`` and the threshold (``threshold_min`` or ``threshold_m``).
    ``group_by``: features per 社区 / 街道 / 区 (the union of their communities) with members short of
    the target and the worst ones. ``format=csv`` / ``xlsx``: the coverage table (and roll-up) instead.
    ``scenario``: as if its changes were applied."""
    res = view.result
    key = state.category_key(category)
    dist = resolve_district_in(res, district) if district is not None else None
    if format == "csv" and group_by is None:
        cache_key = (key, within.minutes, within.walk_m, dist)
        found = plan_cache(res).get("coverage_csv", {}).get(cache_key)
        if found is None:  # made once per plan, in a thread: quick reads on the loop do not wait for it
            found = await anyio.to_thread.run_sync(_coverage_csv, res, key, within, dist)
        return csv_text_response(found[0], f"coverage_{key}", found[1])
    return await anyio.to_thread.run_sync(_coverage_answer, res, key, within, dist, group_by, format)


def _coverage_csv(res: PlanResult, key: str, within: Threshold, district: str | None) -> tuple[str, int]:
    """The coverage table of ``key`` as CSV text and its number of rows, kept on the result (per
    threshold and district; at most :data:`~api.read_tables.MAX_CSV_ANSWERS` per result)."""
    rows = coverage_at(res, key, within.minutes, walk_m=within.walk_m)
    members = _members(res, district)
    if members is not None:
        rows = rows[members[rows["community_row"].to_numpy(dtype=np.int64)]]
    table = labelled_coverage(res, rows)
    cache = plan_cache(res).setdefault("coverage_csv", {})
    found: tuple[str, int] = remember(
        cache,
        (key, within.minutes, within.walk_m, district),
        (csv_text(table, COVERAGE_COLUMNS), len(table)),
        MAX_CSV_ANSWERS,
    )
    return found


def _coverage_answer(
    res: PlanResult, key: str, within: Threshold, dist: str | None, group_by: str | None, format: str
) -> Response:
    """``/coverage`` as GeoJSON, a roll-up CSV or a workbook (in a worker thread: geometry, roll-ups
    and files are CPU work)."""
    members = _members(res, dist)
    if format != "geojson":
        return _coverage_file(res, key, within, dist, members, group_by, format)
    drawn = _drawn_threshold(res, key, within)
    judged = _judged_threshold(res, drawn, within)
    area = _service_area(res, key, drawn)
    meta = _threshold_meta(res, drawn)
    props: dict[str, Any] = {"kind": "service_area", "category": key}
    if drawn.walk_m is None:
        props["minutes"] = drawn.minutes
    else:
        props["walk_m"] = drawn.walk_m
    props.update(meta, area_m2=float(area["area_m2"].iloc[0]))
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": props,
            "geometry": json.loads(area.to_json(drop_id=True))["features"][0]["geometry"],
        }
    ]
    if group_by is not None:
        table = rollup_at(res, group_by, [key], minutes=judged.minutes, walk_m=judged.walk_m, rows=members)
        feats += group_features(res, group_by, table, members)
    else:
        feats += _community_features(res, key, judged, members)
    return feature_collection(
        feats,
        len(feats) - 1,
        weighting=WEIGHT_LABELS.get(res.data.weight_kind),
        weight_kind=res.data.weight_kind,
        **meta,
    )


def _community_shares(
    res: PlanResult, key: str, judged: Threshold
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per community row: the covered share of ``key`` within ``judged`` (nothing asked: the plan's own
    rows), the measure judging it and its threshold in that measure's unit (minutes or metres)."""
    comm = res.data.communities
    n = len(comm)
    types = comm["type"].to_numpy().astype(str)
    if judged.minutes is not None:
        share = share_within(res.times[key], res.engine.points, types, judged.minutes)
        return share, np.full(n, "time", dtype=object), np.full(n, judged.minutes)
    if judged.walk_m is not None:
        share = share_within(res.times[key], res.engine.points, types, walk_m=judged.walk_m)
        return share, np.full(n, "distance", dtype=object), np.full(n, judged.walk_m)
    rows = coverage_at(res, key)
    at = rows["community_row"].to_numpy(dtype=np.int64)
    share, measure, value = np.full(n, np.nan), np.full(n, "time", dtype=object), np.full(n, np.nan)
    share[at] = rows["covered_share"].to_numpy(dtype=float)
    measure[at] = rows["measure"].to_numpy(dtype=object)
    by_m = measure[at] == "distance"
    value[at] = np.where(
        by_m, rows["threshold_m"].to_numpy(dtype=float), rows["threshold_min"].to_numpy(dtype=float)
    )
    return share, measure, value


def _community_features(
    res: PlanResult, key: str, judged: Threshold, members: np.ndarray | None
) -> list[dict[str, Any]]:
    comm = res.data.communities
    cat = res.data.catalog.get(key)
    types = comm["type"].to_numpy().astype(str)
    share, measure, value = _community_shares(res, key, judged)
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
                "measure": str(measure[i]),
                ("threshold_m" if measure[i] == "distance" else "threshold_min"): jsonable(value[i]),
            },
        }
        for i, g in zip(rows, geo)
    ]


def _rollup_sheet(group_by: str, frame: pd.DataFrame) -> Sheet:
    """The roll-up sheet of ``frame``, with its ``threshold_m`` column (metres) when a row has one."""
    sheet = rollup_sheet(group_by, frame)
    if "threshold_m" not in frame or not pd.to_numeric(frame["threshold_m"], errors="coerce").notna().any():
        return sheet
    columns = list(sheet.columns)
    at = next((i + 1 for i, c in enumerate(columns) if c.source == "threshold_min"), len(columns))
    columns.insert(at, THRESHOLD_M_COLUMN)
    return Sheet(sheet.title, frame, tuple(columns))


def _coverage_file(
    res: PlanResult,
    key: str,
    within: Threshold,
    district: str | None,
    members: np.ndarray | None,
    group_by: str | None,
    format: str,
) -> Response:
    minutes, walk_m = within.minutes, within.walk_m
    rows = coverage_at(res, key, minutes, walk_m=walk_m)
    if members is not None:
        rows = rows[members[rows["community_row"].to_numpy(dtype=np.int64)]]
    table = labelled_coverage(res, rows)
    if format == "csv":
        if group_by is not None:
            rolled = rollup_at(res, group_by, [key], minutes=minutes, walk_m=walk_m, rows=members)
            return csv_response(
                rolled, _rollup_sheet(group_by, rolled).columns, f"coverage_{key}_{group_by}", len(rolled)
            )
        return csv_response(table, COVERAGE_COLUMNS, f"coverage_{key}", len(table))
    levels = [group_by] if group_by is not None else present_levels(res)
    sheets = [Sheet("覆盖 coverage", table, COVERAGE_COLUMNS)]
    sheets += [
        _rollup_sheet(lv, rollup_at(res, lv, [key], minutes=minutes, walk_m=walk_m, rows=members))
        for lv in levels
    ]
    query = query_lines(category=key, minutes=minutes, walk_m=walk_m, district=district, group_by=group_by)
    return xlsx_response(res, sheets, query, f"coverage_{key}", len(table))


@dataclass(frozen=True)
class GapQuery:
    """The filters of one ``/gaps`` request, resolved (category key, official district name)."""

    category: str | None
    level: int | None
    minutes: float | None
    walk_m: float | None
    district: str | None
    kind: str | None
    min_residents: float | None
    min_area_m2: float | None
    #: README lines about the plan answered from (a scenario's name and id: PlanView.readme_lines)
    notes: tuple[str, ...] = ()

    @property
    def within(self) -> Threshold:
        return Threshold(self.minutes, self.walk_m)

    def describe(self, group_by: str | None) -> list[str]:
        return [*self.notes] + query_lines(
            category=self.category,
            level=self.level,
            minutes=self.minutes,
            walk_m=self.walk_m,
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
    within: Within,
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
    communities lack a canteen within 10 minutes"); ``walk_m`` instead (not both): within N metres of
    network walking distance. Neither: each category's own threshold in the service's measure (metres
    under ``distance``); the page says which (``measure``, ``threshold_min`` / ``threshold_m``).
    ``group_by``: the coverage of the matching categories rolled up per 小区 / 社区 / 街道 / 区 (a
    :class:`RollupPage`), most uncovered first.
    ``format``: JSON, GeoJSON, CSV (UTF-8 with BOM) or an Excel workbook (with a sheet per level).
    ``scenario``: as if its changes were applied (see /scenarios)."""
    res = view.result
    q = GapQuery(
        category=state.category_key(category) if category is not None else None,
        level=level,
        minutes=within.minutes,
        walk_m=within.walk_m,
        district=resolve_district_in(res, district) if district is not None else None,
        kind=kind,
        min_residents=min_residents,
        min_area_m2=min_area_m2,
        notes=tuple(view.readme_lines()),
    )
    if group_by is not None:
        return await anyio.to_thread.run_sync(_rollup_answer, res, q, group_by, page, format)
    # built once per published plan, in a worker thread (the event loop keeps answering meanwhile)
    idx = await _gap_index(view, within)
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
            **_threshold_meta(idx.result, within),
        )
        return Response(body, media_type="application/json")
    if format == "xlsx":
        return await anyio.to_thread.run_sync(_gaps_file, idx, q, rows, format, total, page)
    geometry = gap_geometry(state, idx) if format == "geojson" else None
    if len(rows) <= MAX_LOOP_ROWS:  # rows encoded once per gap index: a page costs a join
        return _gaps_page(idx, q, rows, format, total, page, geometry)
    return await anyio.to_thread.run_sync(_gaps_page, idx, q, rows, format, total, page, geometry)


def _gaps_page(
    idx: GapIndex,
    q: GapQuery,
    rows: np.ndarray,
    format: GapFormat,
    total: int,
    page: Page,
    geometry: dict[Any, str] | None,
) -> Response:
    """A CSV or GeoJSON page of the gap list from the rows' text encoded once per gap index
    (:class:`~api.read_tables.GapFiles`); the same bytes as :func:`_gaps_file`, which answers when the
    encoded rows cannot serve (a sheet naming a column twice, community ids that are not unique)."""
    files = gap_files(idx, GAP_COLUMNS)
    if format == "csv" and files.fast_csv:
        return csv_text_response(files.csv(rows), "gaps", total)
    if format == "geojson" and geometry is not None:
        meta = _threshold_meta(idx.result, q.within)
        return feature_collection_text(
            files.features(rows, geometry), total, total=total, limit=page.limit, offset=page.offset, **meta
        )
    return _gaps_file(idx, q, rows, format, total, page)


async def _gap_index(view: PlanView, within: Threshold) -> GapIndex:
    """The gap index of the view's plan judged ``within``, built once per plan and threshold in a worker
    thread of the quick reads' own (the event loop keeps answering meanwhile)."""
    if within.walk_m is None:
        idx = view.cached_gap_index(within.minutes)
        if idx is None:
            idx = await run_quick(view.gap_index, within.minutes)
        return idx
    found = cached_gap_index(view.result, walk_m=within.walk_m)
    if found is None:
        found = await run_quick(functools.partial(gap_index_of, view.result, walk_m=within.walk_m))
    return found


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
            _rollup_sheet(lv, rollup_at(res, lv, cats, minutes=q.minutes, walk_m=q.walk_m, rows=members))
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
    return feature_collection(
        feats, total, total=total, limit=page.limit, offset=page.offset, **_threshold_meta(res, q.within)
    )


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
    table = rollup_at(
        res, group_by, _categories(res, q), minutes=q.minutes, walk_m=q.walk_m, rows=_members(res, q.district)
    )
    floor = q.min_residents if q.min_residents is not None else q.min_area_m2
    if floor is not None and len(table):
        table = table[table["uncovered_weight"] >= floor]
    return table.reset_index(drop=True)


def _rollup_answer(res: PlanResult, q: GapQuery, group_by: str, page: Page, format: GapFormat) -> Response:
    table = _rollup_rows(res, q, group_by)
    total = len(table)
    shown = table.iloc[page.slice()]
    if format == "csv":
        return csv_response(shown, _rollup_sheet(group_by, shown).columns, f"gaps_{group_by}", total)
    if format == "xlsx":
        return xlsx_response(
            res, [_rollup_sheet(group_by, shown)], q.describe(group_by), f"gaps_{group_by}", total
        )
    meta = _threshold_meta(res, q.within)
    if format == "geojson":
        feats = group_features(res, group_by, shown, _members(res, q.district))
        return feature_collection(
            feats, total, total=total, limit=page.limit, offset=page.offset, group_by=group_by, **meta
        )
    body = {
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "group_by": group_by,
        "minutes": q.minutes,
        "walk_m": q.walk_m,
        **meta,
        "weight_kind": res.data.weight_kind,
        "weighting": WEIGHT_LABELS.get(res.data.weight_kind, ""),
        "items": records(shown),
    }
    return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type="application/json")
