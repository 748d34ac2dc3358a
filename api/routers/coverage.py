"""``/coverage``, ``/gaps``, ``/communities``: the coverage layer and the gap list."""

from __future__ import annotations

import io
import json
from typing import Annotated, Literal

import anyio.to_thread
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from circles import OSM_ATTRIBUTION
from circles.errors import InputError
from circles.outputs.layers import service_area_layer
from circles.pipeline import WEIGHT_LABELS

from ..dependencies import GeoJSONResponse, get_state
from ..errors import NotFoundError
from ..schemas import CommunityDetail, CommunityPage, GapPage, clean
from ..state import ServiceState

router = APIRouter(tags=["coverage"])
State = Annotated[ServiceState, Depends(get_state)]


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


@router.get("/coverage", response_class=GeoJSONResponse)
def coverage(
    state: State,
    category: Annotated[str, Query(max_length=64)],
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
    t = res.times[category]
    pts = res.engine.points
    n = len(comm)
    tot = np.bincount(pts.community, weights=pts.weight, minlength=n)
    cov = np.bincount(pts.community, weights=np.where(t.time_s <= m * 60, pts.weight, 0.0), minlength=n)
    share = np.divide(cov, tot, out=np.full(n, np.nan), where=tot > 0)
    feats = [
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
                    "type": str(comm["type"].iat[i]),
                    "covered_share": clean(round(float(share[i]), 4)),
                    "applies": bool(cat.applies(str(comm["type"].iat[i]))),
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
    category: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[
        int | None, Query(ge=5, le=15, description="service circle: 5, 10 or 15 minutes")
    ] = None,
    district: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[Literal["coverage", "capacity"] | None, Query()] = None,
    min_residents: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    min_area_m2: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    format: Annotated[Literal["json", "geojson", "csv"], Query()] = "json",
):
    """The gap list (配套缺失清单), most severe first, filtered and paginated; ``total`` counts all matches."""
    idx = state.gap_index()
    res = idx.result
    mask = np.ones(len(idx.records), dtype=bool)
    if category is not None:
        res.data.catalog.get(category)
        mask &= idx.category == category
    if level is not None:
        if level not in (5, 10, 15):
            raise InputError(f"level must be 5, 10 or 15 (minutes), got {level}")
        mask &= idx.level_min == level
    if district is not None:
        mask &= idx.district == district
    if kind is not None:
        mask &= idx.kind == kind
    if min_residents is not None:
        if res.data.weight_kind == "area":
            raise InputError(
                "min_residents needs population data; this region is area-weighted: use min_area_m2"
            )
        mask &= idx.uncovered_residents >= min_residents
    if min_area_m2 is not None:
        mask &= idx.uncovered_area_m2 >= min_area_m2
    rows = np.flatnonzero(mask)
    total = len(rows)
    rows = rows[offset : offset + limit]
    if format == "json":  # the hot path: pre-built rows, no DataFrame, no second validation
        body = {
            "total": total,
            "limit": limit,
            "offset": offset,
            "weighting": WEIGHT_LABELS.get(res.data.weight_kind, ""),
            "items": [idx.records[i] for i in rows],
        }
        return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type="application/json")
    return await anyio.to_thread.run_sync(_gaps_file, res, rows, format, total, limit, offset)


def _gaps_file(res, rows: np.ndarray, format: str, total: int, limit: int, offset: int) -> Response:
    """CSV or GeoJSON page of the gap list (in a worker thread: geometry serialisation is CPU work)."""
    page = res.gaps.iloc[rows]
    if format == "csv":
        buf = io.StringIO()
        page.to_csv(buf, index=False)
        return Response(
            buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"X-Total-Count": str(total), "Content-Disposition": 'inline; filename="gaps.csv"'},
        )
    if format == "geojson":
        geom = res.data.communities.set_index("community_id")["geometry"]
        gj = (
            json.loads(geom.reindex(page["community_id"]).reset_index(drop=True).to_json(drop_id=True))
            if len(page)
            else {"features": []}
        )
        feats = [
            {"type": "Feature", "geometry": f["geometry"], "properties": p}
            for f, p in zip(gj["features"], _records(page))
        ]
        return GeoJSONResponse(
            {
                "type": "FeatureCollection",
                "total": total,
                "limit": limit,
                "offset": offset,
                "attribution": OSM_ATTRIBUTION,
                "features": feats,
            },
            headers={"X-Total-Count": str(total)},
        )


def _summaries(state: ServiceState) -> pd.DataFrame:
    res = state.result
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
def communities(
    state: State,
    district: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CommunityPage:
    """Communities with their number of coverage gaps."""
    df = _summaries(state)
    if district is not None:
        df = df[df["district"] == district]
    return CommunityPage(
        total=len(df), limit=limit, offset=offset, items=_records(df.iloc[offset : offset + limit])
    )


@router.get("/communities/{community_id}", response_model=CommunityDetail)
def community(state: State, community_id: Annotated[str, Path(max_length=128)]) -> CommunityDetail:
    """One community's coverage for every category: covered share, nearest facility, time and distance."""
    res = state.result
    ids = res.data.communities["community_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == community_id)
    if not len(hit):
        raise NotFoundError(f"no community with id {community_id!r}")
    row = int(hit[0])
    summ = _summaries(state).iloc[row]
    cov = res.coverage[res.coverage["community_row"] == row]
    gap_cats = set(
        res.gaps.loc[
            (res.gaps["community_id"] == community_id) & (res.gaps["kind"] == "coverage"), "category"
        ]
    )
    cats = []
    for r in cov.to_dict(orient="records"):
        c = res.data.catalog.get(r["category"])
        cats.append(
            {
                "category": c.key,
                "name_zh": c.name_zh,
                "level_min": c.level_min,
                "applies": bool(r["applies"]),
                "threshold_min": clean(r["threshold_min"]),
                "covered_share": clean(r["covered_share"]),
                "share_5": clean(r["share_5"]),
                "share_10": clean(r["share_10"]),
                "share_15": clean(r["share_15"]),
                "nearest_facility_id": r["nearest_facility_id"] or None,
                "nearest_facility_name": r["nearest_facility_name"] or None,
                "nearest_facility_source": r["nearest_facility_source"] or None,
                "nearest_time_min": clean(r["nearest_time_s"] / 60.0),
                "nearest_walk_m": clean(r["nearest_walk_m"]),
                "gap": c.key in gap_cats,
            }
        )
    return CommunityDetail(
        **{k: clean(v) for k, v in summ.to_dict().items()}, weight_kind=res.data.weight_kind, categories=cats
    )
