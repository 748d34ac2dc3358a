"""The cheap reads answered on the event loop from tables cached per published plan (api/read_tables.py)
give byte-for-byte the answers of the former per-request code, kept here as a reference app, on the
default region and across an edit (the caches never serve an older plan)."""

from __future__ import annotations

import json
import random
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI, Path, Query
from fastapi.responses import Response
from fastapi.testclient import TestClient
from shapely.geometry import Point, Polygon

from api import create_app
from api.dependencies import District, ListPage, OptionalCategoryKey, State
from api.gap_index import gap_index_of
from api.read_tables import READ_CACHE, community_geometry, csv_text, gap_files, plan_cache, sheet_cells
from api.routers import communities as comm_router
from api.routers import coverage as cov_router
from api.schemas import Category, CommunityDetail, CommunityPage, CommunitySummary, Facility, FacilityPage
from api.settings import Settings
from api.state import ServiceState, facility_view
from api.tables import feature_collection, records, rollup_sheet
from circles.outputs.tables import COVERAGE_COLUMNS, GAP_COLUMNS, Column, sheet_table
from circles.planning.queries import (
    ADMIN_COLUMNS,
    coverage_at,
    district_names,
    labelled_coverage,
    present_levels,
    resolve_district_in,
    rollup_at,
)

KINDS = ("text", "bool", "int", "metres", "share", "minutes", "seconds", "number")


# ------------------------------------------------------------------------------------ the former code
def _old_summaries(res) -> pd.DataFrame:
    comm = res.data.communities
    n = (
        res.gaps[res.gaps["kind"] == "coverage"].groupby("community_id").size()
        if len(res.gaps)
        else pd.Series(dtype=int)
    )
    out = comm[[c for c in comm_router.SUMMARY_COLUMNS if c in comm]].copy()
    out["community_id"] = out["community_id"].astype(str)
    for col in ADMIN_COLUMNS:
        if col in out:
            out[col] = [v if isinstance(v, str) and v.strip() else None for v in out[col]]
    out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    return out


def _old_csv(frame: pd.DataFrame, columns) -> str:
    return sheet_table(frame, columns, headers="name").to_csv(index=False)


def _csv_answer(text: str, name: str, total: int) -> Response:
    return Response(
        text.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"X-Total-Count": str(total), "Content-Disposition": f'inline; filename="{name}.csv"'},
    )


def reference_app(state: ServiceState) -> FastAPI:
    """The former handlers (sync, recomputing per request) on the same service state."""
    ref = FastAPI()
    ref.state.service = state

    @ref.get("/facilities", response_model=FacilityPage)
    def list_facilities(
        state: State,
        *,
        category: OptionalCategoryKey = None,
        source: Annotated[Literal["osm", "sample", "user"] | None, Query()] = None,
        page: ListPage,
    ) -> FacilityPage:
        fac = state.result.data.facilities
        if category is not None:
            fac = fac[fac["category"] == state.category_key(category)]
        if source is not None:
            fac = fac[fac["source"] == source]
        items = [Facility.model_validate(facility_view(r)) for r in fac.iloc[page.slice()].itertuples()]
        return FacilityPage(total=len(fac), limit=page.limit, offset=page.offset, items=items)

    @ref.get("/communities", response_model=CommunityPage)
    def communities(state: State, *, district: District = None, page: ListPage) -> CommunityPage:
        res = state.result
        df = _old_summaries(res)
        if district is not None:
            name = resolve_district_in(res, district)
            df = df[district_names(df["district"]) == name]
        items = [CommunitySummary.model_validate(r) for r in records(df.iloc[page.slice()])]
        return CommunityPage(total=len(df), limit=page.limit, offset=page.offset, items=items)

    @ref.get("/communities/{id_or_name}", response_model=CommunityDetail)
    def community(state: State, id_or_name: Annotated[str, Path()]) -> CommunityDetail:
        res = state.result
        row = comm_router.find_community(res.data.communities, id_or_name).rows[0]
        return comm_router.community_detail(res, _old_summaries(res), row)

    @ref.get("/categories", response_model=list[Category])
    def categories(state: State) -> list[dict]:
        return state.result.data.catalog.to_records()

    @ref.get("/coverage")
    def coverage(state: State, category: str, district: str | None = None) -> Response:
        res = state.result
        key = state.category_key(category)
        rows = coverage_at(res, key, None, walk_m=None)
        if district is not None:
            name = resolve_district_in(res, district)
            members = np.asarray(district_names(res.data.communities["district"]) == name, dtype=bool)
            rows = rows[members[rows["community_row"].to_numpy(dtype=np.int64)]]
        table = labelled_coverage(res, rows)
        return _csv_answer(_old_csv(table, COVERAGE_COLUMNS), f"coverage_{key}", len(table))

    return ref


def old_gaps_page(idx, rows: np.ndarray, format: str, total: int, limit: int, offset: int) -> Response:
    """The former ``_gaps_file`` (CSV via ``sheet_table().to_csv()``, GeoJSON via geopandas)."""
    res = idx.result
    selected = idx.gaps.iloc[rows]
    if format == "csv":
        return _csv_answer(_old_csv(selected, GAP_COLUMNS), "gaps", total)
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
    meta = {"measure": res.data.measure, "threshold_min": None, "threshold_m": None}
    return feature_collection(feats, total, total=total, limit=limit, offset=offset, **meta)


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def apps(base_plan, tmp_path_factory):
    """(the service, the reference app) on one state, without the response cache (so every answer
    here comes from the handlers)."""
    settings = Settings(state_dir=tmp_path_factory.mktemp("read_paths"), response_cache_bytes=0)
    state = ServiceState(settings, base=base_plan)
    with TestClient(create_app(state=state)) as c:
        yield c, TestClient(reference_app(state)), state


def _same(c, ref, path: str, params: dict[str, Any] | None = None) -> bytes:
    new, old = c.get(path, params=params), ref.get(path, params=params)
    assert new.status_code == old.status_code == 200, (path, params, new.text[:300])
    assert new.content == old.content, (path, params)
    for h in ("content-type", "x-total-count", "content-disposition"):
        assert new.headers.get(h) == old.headers.get(h), (path, params, h)
    return new.content


def _reads(c, ref, state) -> dict[str, bytes]:
    """Every read of this file's endpoints, compared with the reference; the answers by name."""
    res = state.result
    cats = sorted({str(k) for k in res.data.facilities["category"]})[:6]
    out = {}
    for i, params in enumerate(
        [
            {},
            {"limit": 20, "offset": 200},
            {"source": "user"},
            {"source": "osm", "limit": 7, "offset": 3},
            *({"category": k, "limit": 50} for k in cats),
            {"category": "社区食堂", "source": "user"},
        ]
    ):
        out[f"facilities{i}"] = _same(c, ref, "/facilities", params)
    districts = sorted({d for d in district_names(res.data.communities["district"]) if d})
    for i, params in enumerate(
        [{}, {"limit": 20, "offset": 150}, *({"district": d, "limit": 30} for d in districts[:3])]
    ):
        out[f"communities{i}"] = _same(c, ref, "/communities", params)
    comm = res.data.communities
    for cid in comm["community_id"].astype(str).tolist()[::37]:
        out[f"community {cid}"] = _same(c, ref, f"/communities/{cid}")
    _same(c, ref, f"/communities/{comm['name'].iat[5]}")
    out["categories"] = _same(c, ref, "/categories")
    for key in ["canteen", "park", *cats[:2]]:
        out[f"coverage {key}"] = _same(c, ref, "/coverage", {"category": key, "format": "csv"})
    if districts:
        _same(c, ref, "/coverage", {"category": "canteen", "format": "csv", "district": districts[0]})
    return out


def _gap_pages(c, state, rng: random.Random, n: int) -> None:
    """Random pages of /gaps as CSV and GeoJSON equal the former code's, byte for byte."""
    idx = gap_index_of(state.result)
    cats = sorted(set(idx.category.tolist()))
    for _ in range(n):
        params: dict[str, Any] = {
            "limit": rng.choice([1, 20, 57, 100, 250]),
            "format": rng.choice(["csv", "geojson"]),
        }
        if rng.random() < 0.7:
            params["category"] = rng.choice(cats)
        if rng.random() < 0.4:
            params["level"] = rng.choice([5, 10, 15])
        if rng.random() < 0.4:
            params["offset"] = rng.choice([0, 10, 100, 5000])
        r = c.get("/gaps", params=params)
        assert r.status_code == 200, r.text
        rows = idx.matching(category=params.get("category"), level=params.get("level"))
        total = len(rows)
        off = params.get("offset", 0)
        old = old_gaps_page(
            idx, rows[off : off + params["limit"]], params["format"], total, params["limit"], off
        )
        assert r.content == old.body, params
        assert r.headers["content-type"] == old.headers["content-type"]
        assert r.headers["x-total-count"] == str(total)


# ------------------------------------------------------------------------------------ tests
def test_csv_text_is_sheet_table_to_csv(base_plan):
    """The fast CSV encoder writes what pandas writes: every coverage table, pages of the gap list."""
    for key in sorted(base_plan.coverage["category"].unique()):
        table = labelled_coverage(base_plan, coverage_at(base_plan, key, None, walk_m=None))
        assert csv_text(table, COVERAGE_COLUMNS) == _old_csv(table, COVERAGE_COLUMNS), key
        assert csv_text(table.iloc[:0], COVERAGE_COLUMNS) == _old_csv(table.iloc[:0], COVERAGE_COLUMNS)
    for level in present_levels(base_plan):  # roll-ups (CSV of group_by answers)
        for cats in (["canteen"], sorted(base_plan.coverage["category"].unique())):
            rolled = rollup_at(base_plan, level, cats)
            for columns in (
                rollup_sheet(level, rolled).columns,
                (*rollup_sheet(level, rolled).columns, cov_router.THRESHOLD_M_COLUMN),
            ):
                assert csv_text(rolled, columns) == _old_csv(rolled, columns), (level, cats)
    idx = gap_index_of(base_plan)
    files = gap_files(idx, GAP_COLUMNS)
    rng = np.random.default_rng(3)
    for size in (0, 1, 2, 33, 100, len(idx.records)):
        rows = np.sort(rng.choice(len(idx.records), size=size, replace=False))
        assert files.csv(rows) == _old_csv(idx.gaps.iloc[rows], GAP_COLUMNS), size


def test_csv_text_types_like_pandas():
    """Blanks, infinity, fractions among whole numbers, booleans, formula-like and quoted text: the
    column types pandas infers per page, written as it writes them."""
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "f": [1.0, np.nan, np.inf, -np.inf],
            "g": [1.25, 2.0, 3.5, 1e16],
            "w": [0.05, 0.1234, np.nan, 1.0],
            "s": ["=SUM(A1)", 'a "b", c', None, "l\nm"],
            "b": [True, False, True, True],
            "o": [True, None, 1, "x"],
            "n": [np.nan] * 4,
            "t": [30.0, 61.0, 600.0, np.nan],
        }
    )
    kinds = dict(
        i="int", f="metres", g="number", w="share", s="text", b="bool", o="text", n="share", t="seconds"
    )
    columns = [Column(k, k, k, k, kind) for k, kind in kinds.items()]
    for rows in ([0, 1, 2, 3], [0], [1], [0, 2], [2, 3], [3], []):
        sub = frame.iloc[rows]
        assert csv_text(sub, columns) == _old_csv(sub, columns), rows
        for c in columns:  # one column alone (a lone blank cell is written "")
            assert csv_text(sub, [c]) == _old_csv(sub, [c]), (rows, c.source)
    for kind in KINDS:
        values = [None, np.nan, pd.NA, 2, 2.5, True, np.inf, -np.inf, "-1", "@x"]
        for v in values:
            one = pd.DataFrame({"x": pd.Series([v], dtype=object)})
            try:
                expected = sheet_table(one, [Column("x", "x", "x", "x", kind)])
            except (TypeError, ValueError):
                with pytest.raises((TypeError, ValueError)):
                    sheet_cells([v], kind)
                continue
            got = sheet_cells([v], kind)[0]
            assert expected["x"].tolist()[0] == got or (got is None and pd.isna(expected["x"].iloc[0])), (
                kind,
                v,
            )


def test_reads_equal_the_former_code(apps):
    c, ref, state = apps
    _reads(c, ref, state)
    _gap_pages(c, state, random.Random(1), 40)


def test_reads_after_an_edit(apps):
    """A POST publishes a new plan: the answers change where they should, equal the former code's on
    the new plan, and no cache answers from the old plan."""
    c, ref, state = apps
    old_res = state.result
    before = _reads(c, ref, state)
    assert READ_CACHE in old_res.caches
    comm = old_res.data.communities
    p = comm.geometry.iloc[0].representative_point()
    r = c.post("/facilities", json={"category": "canteen", "lon": p.x, "lat": p.y, "name": "读路径食堂"})
    assert r.status_code == 201, r.text
    fid = r.json()["facility"]["facility_id"]
    assert state.result is not old_res and READ_CACHE not in state.result.caches  # a new plan starts empty
    after = _reads(c, ref, state)
    assert fid.encode() in after["facilities2"] and fid.encode() not in before["facilities2"]
    assert json.loads(after["facilities0"])["total"] == json.loads(before["facilities0"])["total"] + 1
    assert after["coverage canteen"] != before["coverage canteen"]
    assert after["coverage park"] == before["coverage park"]
    assert after["categories"] == before["categories"]
    # the community layer's static tables are shared by the edited plan (the same community table)
    assert state.result.data.communities is state.current().base.data.communities
    _gap_pages(c, state, random.Random(2), 20)


def test_gap_geojson_with_missing_and_empty_geometry(base_plan):
    """A gap whose community has an empty polygon, or is not in the community table, has a null
    geometry (as geopandas writes it)."""
    import dataclasses

    comm = base_plan.data.communities.copy()
    comm.loc[comm.index[0], "geometry"] = Polygon()
    comm.loc[comm.index[1], "geometry"] = Point(104.0, 30.6).buffer(0.001)
    res = dataclasses.replace(
        base_plan, data=dataclasses.replace(base_plan.data, communities=comm), caches={}
    )
    idx = gap_index_of(res)
    gone = str(comm["community_id"].iat[2])
    res.data.communities.loc[comm.index[2], "community_id"] = "not-a-gap-community"
    ids = [str(i) for i in base_plan.data.communities["community_id"].iloc[:3]]
    rows = np.flatnonzero(np.isin(idx.gaps["community_id"].astype(str).to_numpy(), ids))
    assert len(rows) and gone in set(idx.gaps["community_id"].iloc[rows])
    geometry = community_geometry(plan_cache(res), res.data.communities)
    assert geometry is not None
    old = json.loads(old_gaps_page(idx, rows, "geojson", len(rows), 50, 0).body)["features"]
    new = json.loads(f"[{gap_files(idx, GAP_COLUMNS).features(rows, geometry)}]")
    assert new == old
    assert any(f["geometry"] is None for f in new) and any(f["geometry"] is not None for f in new)
