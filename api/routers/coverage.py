"""``/coverage``, ``/gaps``, ``/communities``: the coverage layer and the gap list."""

from __future__ import annotations

import io
import json
from typing import Annotated, Any, Literal

import anyio.to_thread
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from circles import OSM_ATTRIBUTION
from circles._common import jsonable
from circles.outputs.layers import service_area_layer
from circles.pipeline import WEIGHT_LABELS, PlanResult
from circles.planning.coverage import share_within

from ..dependencies import (
    CategoryKey,
    District,
    GeoJSONResponse,
    ListPage,
    OptionalCategoryKey,
    Page,
    State,
    page_params,
)
from ..errors import NotFoundError
from ..schemas import CategoryCoverage, CommunityDetail, CommunityPage, CommunitySummary, GapPage

router = APIRouter(tags=["coverage"])

GapFormat = Literal["json", "geojson", "csv"]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [jsonable(row) for row in df.to_dict(orient="records")]


@router.get("/coverage", response_class=GeoJSONResponse)
def coverage(
    state: State,
    category: CategoryKey,
    minutes: Annotated[
        float | None, Query(gt=0, le=60, description="default: the category's urban threshold")
    ] = None,
) -> GeoJSONResponse:
    """The area within ``minutes`` of the nearest facility of ``category`` (walking), and every community
    with the share of its residents (or area) inside it (each community judged by its own profile)."""
    res = state.result
    cat = res.data.catalog.get(category)
    m = float(minutes) if minutes is not None else cat.threshold_min("urban")
    area = service_area_layer(res, category, [m])
    comm = res.data.communities
    types = comm["type"].to_numpy().astype(str)
    share = share_within(res.times[category], res.engine.points, types, m)
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {
                "kind": "service_area",
                "category": category,
                "minutes": m,
                "area_m2": float(area["area_m2"].iloc[0]),
            },
            "geometry": json.loads(area.to_json(drop_id=True))["features"][0]["geometry"],
        }
    ]
    geo = json.loads(comm[["geometry"]].to_json(drop_id=True))["features"]
    for i, g in enumerate(geo):
        feats.append(
            {
                "type": "Feature",
                "geometry": g["geometry"],
                "properties": {
                    "kind": "community",
                    "community_id": str(comm["community_id"].iat[i]),
                    "name": str(comm["name"].iat[i]),
                    "type": str(types[i]),
                    "covered_share": jsonable(round(float(share[i]), 4)),
                    "applies": bool(cat.applies(str(types[i]))),
                },
            }
        )
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "attribution": OSM_ATTRIBUTION,
            "weighting": WEIGHT_LABELS.get(res.data.weight_kind),
            "features": feats,
        }
    )


@router.get(
    "/gaps",
    response_model=GapPage,
    responses={200: {"content": {"application/geo+json": {}, "text/csv": {}}}},
)
async def gaps(
    state: State,
    *,
    category: OptionalCategoryKey = None,
    level: Annotated[
        int | None, Query(ge=5, le=15, description="service circle: 5, 10 or 15 minutes")
    ] = None,
    district: District = None,
    kind: Annotated[Literal["coverage", "capacity"] | None, Query()] = None,
    min_residents: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    min_area_m2: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    page: Annotated[Page, Depends(page_params(50))],
    format: Annotated[GapFormat, Query()] = "json",
) -> Response:
    """The gap list (配套缺失清单), most severe first, filtered and paginated; ``total`` counts all
    matches."""
    idx = state.gap_index()
    res = idx.result
    rows = idx.matching(
        category=category,
        level=level,
        district=district,
        kind=kind,
        min_residents=min_residents,
        min_area_m2=min_area_m2,
    )
    total = len(rows)
    rows = rows[page.slice()]
    if format == "json":  # the hot path: pre-built rows, no DataFrame, no second validation
        body = {
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
            "weighting": WEIGHT_LABELS.get(res.data.weight_kind, ""),
            "items": [idx.records[i] for i in rows],
        }
        return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type="application/json")
    return await anyio.to_thread.run_sync(_gaps_file, res, rows, format, total, page)


def _gaps_file(res: PlanResult, rows: np.ndarray, format: GapFormat, total: int, page: Page) -> Response:
    """CSV or GeoJSON page of the gap list (in a worker thread: geometry serialisation is CPU work)."""
    selected = res.gaps.iloc[rows]
    if format == "csv":
        buf = io.StringIO()
        selected.to_csv(buf, index=False)
        return Response(
            buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"X-Total-Count": str(total), "Content-Disposition": 'inline; filename="gaps.csv"'},
        )
    geom = res.data.communities.set_index("community_id")["geometry"]
    gj = (
        json.loads(geom.reindex(selected["community_id"]).reset_index(drop=True).to_json(drop_id=True))
        if len(selected)
        else {"features": []}
    )
    feats = [
        {"type": "Feature", "geometry": f["geometry"], "properties": p}
        for f, p in zip(gj["features"], _records(selected))
    ]
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
            "attribution": OSM_ATTRIBUTION,
            "features": feats,
        },
        headers={"X-Total-Count": str(total)},
    )


def _summaries(res: PlanResult) -> pd.DataFrame:
    """One row per community (in table order) with its number of coverage gaps (``n_gaps``)."""
    comm = res.data.communities
    n = (
        res.gaps[res.gaps["kind"] == "coverage"].groupby("community_id").size()
        if len(res.gaps)
        else pd.Series(dtype=int)
    )
    out = comm[["community_id", "name", "type", "district", "area_m2", "residents"]].copy()
    out["community_id"] = out["community_id"].astype(str)
    out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    return out


@router.get("/communities", response_model=CommunityPage)
def communities(state: State, *, district: District = None, page: ListPage) -> CommunityPage:
    """Communities with their number of coverage gaps."""
    df = _summaries(state.result)
    if district is not None:
        df = df[df["district"] == district]
    items = [CommunitySummary.model_validate(r) for r in _records(df.iloc[page.slice()])]
    return CommunityPage(total=len(df), limit=page.limit, offset=page.offset, items=items)


@router.get("/communities/{community_id}", response_model=CommunityDetail)
def community(state: State, community_id: Annotated[str, Path(max_length=128)]) -> CommunityDetail:
    """One community's coverage for every category: covered share, nearest facility, time and distance."""
    res = state.result
    ids = res.data.communities["community_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == community_id)
    if not len(hit):
        raise NotFoundError(f"no community with id {community_id!r}")
    row = int(hit[0])
    summ = _summaries(res).iloc[row]
    cov = res.coverage[res.coverage["community_row"] == row]
    gap_cats = set(
        res.gaps.loc[
            (res.gaps["community_id"] == community_id) & (res.gaps["kind"] == "coverage"), "category"
        ]
    )
    cats = [_category_coverage(res, r, gap_cats) for r in cov.to_dict(orient="records")]
    return CommunityDetail(**jsonable(summ.to_dict()), weight_kind=res.data.weight_kind, categories=cats)


def _category_coverage(res: PlanResult, r: dict[str, Any], gap_cats: set[str]) -> CategoryCoverage:
    """One coverage row of a community as the API shows it (times in minutes, distances in metres)."""
    c = res.data.catalog.get(r["category"])
    return CategoryCoverage(
        category=c.key,
        name_zh=c.name_zh,
        level_min=c.level_min,
        applies=bool(r["applies"]),
        threshold_min=jsonable(r["threshold_min"]),
        covered_share=jsonable(r["covered_share"]),
        share_5=jsonable(r["share_5"]),
        share_10=jsonable(r["share_10"]),
        share_15=jsonable(r["share_15"]),
        nearest_facility_id=r["nearest_facility_id"] or None,
        nearest_facility_name=r["nearest_facility_name"] or None,
        nearest_facility_source=r["nearest_facility_source"] or None,
        nearest_time_min=jsonable(r["nearest_time_s"] / 60.0),
        nearest_walk_m=jsonable(r["nearest_walk_m"]),
        gap=c.key in gap_cats,
    )
