"""``/communities``: the communities with their gaps, and one community by id or name."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path

from circles._common import jsonable
from circles.pipeline import PlanResult
from circles.planning.queries import find_community, resolve_district_in

from ..dependencies import District, ListPage, State
from ..errors import ConflictError, NotFoundError
from ..read_tables import SUMMARY_COLUMNS, CommunityTable, community_table, layer_cache, summaries
from ..schemas import CategoryCoverage, CommunityConflict, CommunityDetail, CommunityPage
from ..state import ServiceState
from ..strict_json import StrictJSONRoute

__all__ = ["MAX_LISTED_IDS", "SUMMARY_COLUMNS", "community_detail", "router", "summaries"]

router = APIRouter(tags=["coverage"], route_class=StrictJSONRoute)

#: Ids listed in the 409 of a name several communities share.
MAX_LISTED_IDS = 50


def _table(state: ServiceState, res: PlanResult) -> CommunityTable:
    """The community summaries of ``res``, built once per result (the layer's static columns once per
    community layer)."""
    return community_table(res, layer_cache(state, res))


@router.get("/communities", response_model=CommunityPage)
async def communities(state: State, *, district: District = None, page: ListPage) -> CommunityPage:
    """Communities with their 社区 / 街道 where known and their number of coverage gaps; ``district``
    accepts 成华区, 成华 or Chenghua."""
    # on the event loop: the summary table and its validated rows are built once per published plan
    res = state.result
    table = _table(state, res)
    if district is None:
        rows = np.arange(len(table.items))
    else:
        rows = np.flatnonzero(table.districts == resolve_district_in(res, district))
    items = table.page(rows[page.slice()])
    return CommunityPage(total=len(rows), limit=page.limit, offset=page.offset, items=items)


@router.get(
    "/communities/{id_or_name}",
    response_model=CommunityDetail,
    responses={409: {"model": CommunityConflict, "description": "several communities carry the name"}},
)
async def community(state: State, id_or_name: Annotated[str, Path(max_length=128)]) -> CommunityDetail:
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
    table = _table(state, res)
    row = found.rows[0]
    detail = table.details.get(row)
    if detail is None:  # one per community and published plan
        detail = table.details.setdefault(row, community_detail(res, table.summaries, row))
    return detail


def community_detail(res: PlanResult, summ_table: pd.DataFrame, row: int) -> CommunityDetail:
    """Community ``row``'s coverage of every category (``summ_table``: :func:`summaries` of ``res``)."""
    community_id = str(res.data.communities["community_id"].iat[row])
    summ = summ_table.iloc[row]
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
