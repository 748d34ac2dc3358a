"""``/communities``: the communities with their gaps, and one community by id or name."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path

from circles._common import jsonable
from circles.pipeline import PlanResult
from circles.planning.queries import ADMIN_COLUMNS, district_names, find_community, resolve_district_in

from ..dependencies import District, ListPage, State
from ..errors import ConflictError, NotFoundError
from ..schemas import CategoryCoverage, CommunityConflict, CommunityDetail, CommunityPage, CommunitySummary
from ..strict_json import StrictJSONRoute
from ..tables import records

router = APIRouter(tags=["coverage"], route_class=StrictJSONRoute)

#: Ids listed in the 409 of a name several communities share.
MAX_LISTED_IDS = 50
SUMMARY_COLUMNS = ["community_id", "name", "type", "district", *ADMIN_COLUMNS, "area_m2", "residents"]


def _summaries(res: PlanResult) -> pd.DataFrame:
    """One row per community (in table order) with its number of coverage gaps (``n_gaps``)."""
    comm = res.data.communities
    n = (
        res.gaps[res.gaps["kind"] == "coverage"].groupby("community_id").size()
        if len(res.gaps)
        else pd.Series(dtype=int)
    )
    out = comm[[c for c in SUMMARY_COLUMNS if c in comm]].copy()
    out["community_id"] = out["community_id"].astype(str)
    for col in ADMIN_COLUMNS:
        if col in out:
            out[col] = [v if isinstance(v, str) and v.strip() else None for v in out[col]]
    out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    return out


@router.get("/communities", response_model=CommunityPage)
def communities(state: State, *, district: District = None, page: ListPage) -> CommunityPage:
    """Communities with their 社区 / 街道 where known and their number of coverage gaps; ``district``
    accepts 成华区, 成华 or Chenghua."""
    res = state.result
    df = _summaries(res)
    if district is not None:
        name = resolve_district_in(res, district)
        df = df[district_names(df["district"]) == name]
    items = [CommunitySummary.model_validate(r) for r in records(df.iloc[page.slice()])]
    return CommunityPage(total=len(df), limit=page.limit, offset=page.offset, items=items)


@router.get(
    "/communities/{id_or_name}",
    response_model=CommunityDetail,
    responses={409: {"model": CommunityConflict, "description": "several communities carry the name"}},
)
def community(state: State, id_or_name: Annotated[str, Path(max_length=128)]) -> CommunityDetail:
    """One community's coverage for every category: covered share, nearest facility, time and distance.
    Found by id, else by its exact name (or its 社区's name when that is one row). A name several
    communities carry is a 409 listing their ids; an unknown one a 404 with the nearest names."""
    res = state.result
    found = find_community(res.data.communities, id_or_name)
    if found.matched_by == "none":
        near = f"; nearest names: {', '.join(found.near)}" if found.near else ""
        raise NotFoundError(f"no community with id or name {id_or_name!r}{near}", near=list(found.near))
    if len(found.rows) > 1:
        ids = res.data.communities["community_id"].astype(str).to_numpy()[list(found.rows)]
        what = "are named" if found.matched_by == "name" else "belong to the 社区"
        raise ConflictError(
            f"{len(ids)} communities {what} {id_or_name!r}: ids {', '.join(ids[:MAX_LISTED_IDS])}"
            + (" …" if len(ids) > MAX_LISTED_IDS else "")
            + "; ask by id, or roll up with /gaps?group_by=community",
            community_ids=[str(i) for i in ids[:MAX_LISTED_IDS]],
        )
    return _detail(res, found.rows[0])


def _detail(res: PlanResult, row: int) -> CommunityDetail:
    community_id = str(res.data.communities["community_id"].iat[row])
    summ = _summaries(res).iloc[row]
    cov = res.coverage[res.coverage["community_row"] == row]
    gaps = res.gaps
    gap_cats = set(
        gaps.loc[(gaps["community_id"] == community_id) & (gaps["kind"] == "coverage"), "category"]
    )
    cats = [_category_coverage(res, r, gap_cats) for r in cov.to_dict(orient="records")]
    return CommunityDetail(**jsonable(summ.to_dict()), weight_kind=res.data.weight_kind, categories=cats)


def _category_coverage(res: PlanResult, r: dict[str, Any], gap_cats: set[str]) -> CategoryCoverage:
    """One coverage row of a community as the API shows it (times in minutes, distances in metres), with
    the measure that judged it and its threshold in that unit (``threshold_min`` or ``threshold_m``)."""
    c = res.data.catalog.get(r["category"])
    return CategoryCoverage(
        category=c.key,
        name_zh=c.name_zh,
        level_min=c.level_min,
        applies=bool(r["applies"]),
        threshold_min=jsonable(r["threshold_min"]),
        threshold_m=jsonable(r.get("threshold_m")),
        measure=str(r.get("measure") or "time"),
        covered_share=jsonable(r["covered_share"]),
        share_5=jsonable(r["share_5"]),
        share_10=jsonable(r["share_10"]),
        share_15=jsonable(r["share_15"]),
        nearest_facility_id=r["nearest_facility_id"] or None,
        nearest_facility_name=r["nearest_facility_name"] or None,
        nearest_facility_source=r["nearest_facility_source"] or None,
        nearest_time_min=jsonable(np.float64(r["nearest_time_s"]) / 60.0),
        nearest_walk_m=jsonable(r["nearest_walk_m"]),
        gap=c.key in gap_cats,
    )
