"""A chain of edits re-planned incrementally (:func:`circles.pipeline.with_facilities`: one search per
changed category, the other rows reused, looked-up keys carried from result to result) gives the very
tables a full plan of the same facility table gives: coverage and gap list equal column for column,
dtype for dtype, row for row (ties in severity included), and the same per-point times.

On a small synthetic grid (tests/grids.py: urban and rural communities, equal weights that split
exactly in half, communities that tie in severity, a capacity category with households and floor
areas) and on the default region."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from circles.catalog import load_catalog
from circles.config import Region
from circles.pipeline import PlanData, PlanOptions, PlanResult, plan_graphs, run_plan, with_facilities
from circles.planning.coverage import coverage_columns, coverage_frame, coverage_rows
from circles.planning.gaps import gap_keys, update_gaps, update_gaps_and_keys

from grids import X0, Y0, grid_network

CRS = "EPSG:32648"
#: the capacity category (30 m² per 100 households) and the categories the grid plan covers
CAPACITY = "party_service_centre"
CATEGORIES = ["party_service_station", CAPACITY, "canteen", "park", "kindergarten", "clinic"]


def wgs(points: list[Point]) -> gpd.GeoSeries:
    return gpd.GeoSeries(points, crs=CRS).to_crs("EPSG:4326")


def grid_data(tmp_path) -> PlanData:
    """A 3 km x 3 km street grid (100 m blocks) with 12 communities of 4 resident points each.

    Communities 0-3 are alike (same weights, far from every facility): their gap rows tie in severity
    and nearest time. Every community's weights are 1:1:1:1 or 1:1:2, so medians fall on exact half
    splits. Community 11 is rural (searched by bicycle)."""
    net = grid_network(31, 31, 100.0)
    rows, pts = [], []
    for i in range(12):
        cx, cy = 300.0 + (i % 4) * 800.0, 300.0 + (i // 4) * 1000.0
        ctype = "rural" if i == 11 else "urban"
        weights = [250.0] * 4 if i % 3 else [250.0, 250.0, 500.0]
        households = 400.0 if i < 4 else 150.0 + 40 * i
        rows.append(
            {
                "community_id": f"c{i:02d}",
                "name": f"社区{i}",
                "type": ctype,
                "district": "测试区" if i % 2 else "样例区",
                "area_m2": 4e4,
                "households": households,
                "population": sum(weights),
                "residents": sum(weights),
                "source": "test",
                "geometry": box(X0 + cx - 150, Y0 + cy - 150, X0 + cx + 150, Y0 + cy + 150),
            }
        )
        for k, w in enumerate(weights):
            pts.append((f"c{i:02d}", w, Point(X0 + cx + 100 * (k % 2) - 50, Y0 + cy + 100 * (k // 2) - 50)))
    comm = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS).to_crs("EPSG:4326")
    points = gpd.GeoDataFrame(
        {"community_id": [p[0] for p in pts], "weight": [p[1] for p in pts], "weight_kind": "population"},
        geometry=[p[2] for p in pts],
        crs=CRS,
    )
    fac = facilities(
        [
            ("s1", "party_service_station", 300, 1300, np.nan),
            ("s2", "party_service_station", 1900, 2300, np.nan),
            ("p1", CAPACITY, 1100, 1300, 60.0),
            ("p2", CAPACITY, 2700, 2300, 400.0),
            ("k1", "canteen", 1900, 1300, np.nan),
            ("g1", "park", 1100, 2300, np.nan),
            ("g2", "park", 2700, 1300, np.nan),
            ("g3", "park", 300, 2300, np.nan),
            ("d1", "kindergarten", 1150, 1350, np.nan),
            # no clinic: every community short of one, the alike ones tied
        ]
    )
    lon0, lat0 = wgs([Point(X0 - 500, Y0 - 500)]).iloc[0].coords[0]
    lon1, lat1 = wgs([Point(X0 + 3500, Y0 + 3500)]).iloc[0].coords[0]
    region = Region(
        key="grid",
        osm_path=tmp_path / "absent.osm.pbf",
        bbox=(lon0, lat0, lon1, lat1),
        metric_crs=CRS,
        name_zh="合成网格",
        source="synthetic grid",
    )
    graphs = plan_graphs(net, set(comm["type"]), "time")
    return PlanData(region, net, graphs, load_catalog(), comm, fac, points, "population", ["synthetic"])


def facilities(rows: list[tuple[str, str, float, float, float]]) -> gpd.GeoDataFrame:
    """Facility rows (id, category, x m, y m from the grid's corner, floor area m²), EPSG:4326."""
    return gpd.GeoDataFrame(
        {
            "facility_id": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "name": [f"设施{r[0]}" for r in rows],
            "floor_area_m2": [r[4] for r in rows],
            "source": "sample",
        },
        geometry=wgs([Point(X0 + r[2], Y0 + r[3]) for r in rows]).to_numpy(),
        crs="EPSG:4326",
    )


def added(fac: gpd.GeoDataFrame, *rows: tuple[str, str, float, float, float]) -> gpd.GeoDataFrame:
    new = facilities(list(rows)).assign(source="user")
    return gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), geometry="geometry", crs=fac.crs)


def moved(fac: gpd.GeoDataFrame, facility_id: str, x: float, y: float) -> gpd.GeoDataFrame:
    out = fac.copy()
    out.loc[out["facility_id"] == facility_id, "geometry"] = wgs([Point(X0 + x, Y0 + y)]).iloc[0]
    return out


def dropped(fac: gpd.GeoDataFrame, *ids: str) -> gpd.GeoDataFrame:
    return fac[~fac["facility_id"].isin(ids)].reset_index(drop=True)


def assert_same_plan(edited: PlanResult, full: PlanResult) -> None:
    """The incrementally edited result equals the full plan of its facility table."""
    pd.testing.assert_frame_equal(edited.coverage, full.coverage, check_dtype=True, check_exact=True)
    pd.testing.assert_frame_equal(edited.gaps, full.gaps, check_dtype=True, check_exact=True)
    assert edited.times.keys() == full.times.keys()
    for key, t in full.times.items():
        np.testing.assert_array_equal(edited.times[key].time_s, t.time_s)
        np.testing.assert_array_equal(edited.times[key].facility, t.facility)
    # the keys carried to the next edit are those a lookup gives
    d = edited.data
    carried = edited.caches["table_keys"][""].gap_keys
    looked_up = gap_keys(edited.gaps, d.communities, d.catalog)
    for name in ("code", "community_row", "capacity"):
        np.testing.assert_array_equal(getattr(carried, name), getattr(looked_up, name))


def replay(start: PlanResult, steps, opts: PlanOptions) -> None:
    """Apply each (facility table -> new table, changed categories) in turn, comparing every result with
    a full plan of the same table."""
    res = start
    for edit, changed in steps:
        fac = edit(res.data.facilities)
        res = with_facilities(res, fac, changed)
        full = run_plan(dataclasses.replace(start.data, facilities=fac.reset_index(drop=True)), opts)
        assert_same_plan(res, full)


@pytest.fixture(scope="module")
def grid_plan(tmp_path_factory):
    data = grid_data(tmp_path_factory.mktemp("grid"))
    opts = PlanOptions(region="grid", categories=list(CATEGORIES))
    return run_plan(data, opts), opts


def test_grid_plan_has_ties_capacity_rows_and_tied_clinic_gaps(grid_plan):
    res, _ = grid_plan
    gaps = res.gaps
    assert (gaps["kind"] == "capacity").any()
    clinic = gaps[gaps["category"] == "clinic"]
    assert len(clinic) == 12  # no clinic anywhere
    tied = clinic.duplicated(["severity", "nearest_time_min"], keep=False)
    assert tied.sum() >= 4


def test_a_chain_of_edits_on_the_grid_equals_full_plans(grid_plan):
    res, opts = grid_plan
    steps = [
        (lambda f: added(f, ("u1", "clinic", 1100, 1300, np.nan)), ["clinic"]),  # the first clinic
        (lambda f: dropped(f, "s1"), ["party_service_station"]),  # renumbers every later row
        (lambda f: moved(f, "g1", 300, 300), ["park"]),
        (lambda f: added(f, ("u2", CAPACITY, 300, 300, 20.0)), [CAPACITY]),  # a capacity category
        (lambda f: moved(dropped(f, "k1"), "u1", 2700, 2300), ["canteen", "clinic"]),  # two at once
        (lambda f: dropped(f, "u1"), ["clinic"]),  # back to tied clinic gaps
        (lambda f: moved(f, "p1", 1900, 300), [CAPACITY, "park", "kindergarten"]),  # one moved, two not
        (lambda f: added(dropped(f, "p2", "g2"), ("u3", "park", 1500, 1500, np.nan)), [CAPACITY, "park"]),
    ]
    replay(res, steps, opts)


def test_an_edit_that_names_a_category_twice_or_changes_nothing(grid_plan):
    res, opts = grid_plan
    fac = added(res.data.facilities, ("u9", "canteen", 300, 300, np.nan))
    twice = with_facilities(res, fac, ["canteen", "park", "canteen"])
    assert_same_plan(twice, run_plan(dataclasses.replace(res.data, facilities=fac), opts))
    same = with_facilities(res, res.data.facilities, ["clinic"])
    assert_same_plan(same, res)


def test_rows_reordered_across_categories_change_no_category(grid_plan):
    """A table whose rows keep their order within each category but not across (what converge re-plans
    with no category changed): only the facility rows are renumbered."""
    res, opts = grid_plan
    fac = res.data.facilities
    reordered = fac.iloc[np.r_[4 : len(fac), 0:4]].reset_index(drop=True)
    edited = with_facilities(res, reordered, [])
    assert_same_plan(edited, run_plan(dataclasses.replace(res.data, facilities=reordered), opts))
    assert not edited.coverage["nearest_facility_row"].equals(res.coverage["nearest_facility_row"])


def test_a_plan_of_categories_out_of_catalog_order(grid_plan):
    """run_plan's table follows ``categories``; an edit sorts it into catalog order, as before."""
    res, _ = grid_plan
    opts = PlanOptions(region="grid", categories=["clinic", "canteen", CAPACITY])
    start = run_plan(res.data, opts)
    fac = added(res.data.facilities, ("u1", "canteen", 1100, 1300, np.nan))
    edited = with_facilities(start, fac, ["canteen"])
    # the reference: the former edit, concatenating and sorting the whole table
    keys = pd.Index(list(res.data.catalog.keys()))
    cov = pd.concat([start.coverage[start.coverage["category"] != "canteen"], canteen_rows(edited)])
    code = keys.get_indexer(cov["category"])
    want = cov.take(np.lexsort((cov["community_row"].to_numpy(), code))).reset_index(drop=True)
    pd.testing.assert_frame_equal(edited.coverage, want, check_dtype=True)
    d = edited.data
    pd.testing.assert_frame_equal(
        edited.gaps,
        update_gaps(start.gaps, want, d.communities, d.facilities, d.catalog, d.weight_kind, ["canteen"]),
    )


def canteen_rows(res: PlanResult) -> pd.DataFrame:
    from circles.pipeline import facility_points
    from circles.planning.coverage import catalog_level_walk_m

    d = res.data
    types = d.communities["type"].to_numpy().astype(str)
    return coverage_rows(
        d.catalog.get("canteen"),
        res.times["canteen"],
        res.engine.points,
        types,
        facility_points(d),
        level_walk_m=catalog_level_walk_m(d.catalog),
    )


def test_coverage_columns_make_the_coverage_rows(grid_plan):
    res, _ = grid_plan
    from circles.pipeline import facility_points

    d = res.data
    types = d.communities["type"].to_numpy().astype(str)
    for key in CATEGORIES:
        args = (d.catalog.get(key), res.times[key], res.engine.points, types, facility_points(d))
        frame = coverage_frame(coverage_columns(*args))
        pd.testing.assert_frame_equal(frame, pd.DataFrame(coverage_columns(*args)), check_dtype=True)
        pd.testing.assert_frame_equal(frame, coverage_rows(*args), check_dtype=True)


def test_given_keys_and_columns_change_nothing(grid_plan):
    """update_gaps_and_keys with the keys and columns it may be given equals update_gaps without."""
    res, _ = grid_plan
    fac = added(res.data.facilities, ("u1", "clinic", 1900, 2300, np.nan))
    edited = with_facilities(res, fac, ["clinic"])
    d = edited.data
    plain = update_gaps(
        res.gaps, edited.coverage, d.communities, d.facilities, d.catalog, d.weight_kind, ["clinic"]
    )
    keyed, keys = update_gaps_and_keys(
        res.gaps,
        edited.coverage,
        d.communities,
        d.facilities,
        d.catalog,
        d.weight_kind,
        ["clinic"],
        previous_keys=gap_keys(res.gaps, d.communities, d.catalog),
        coverage_code=pd.Index(list(d.catalog.keys())).get_indexer(edited.coverage["category"]),
    )
    pd.testing.assert_frame_equal(plain, edited.gaps)
    pd.testing.assert_frame_equal(keyed, edited.gaps)
    assert keys is not None and len(keys.code) == len(keyed)


@pytest.fixture(scope="module")
def default_with_capacity(default_plan_result):
    """The default region planned again with made-up households and floor areas (capacity rows)."""
    d = default_plan_result.data
    comm = d.communities.assign(households=(d.communities["residents_estimate"].fillna(900) / 2.5).round())
    fac = d.facilities.assign(floor_area_m2=np.random.default_rng(0).uniform(10, 400, len(d.facilities)))
    data = dataclasses.replace(d, communities=comm, facilities=fac)
    return run_plan(data, PlanOptions())


def test_a_chain_of_edits_on_the_default_region_equals_full_plans(default_with_capacity):
    res = default_with_capacity
    fac = res.data.facilities
    canteen = fac[fac["category"] == "canteen"].iloc[0].geometry
    park_ids = fac.loc[fac["category"] == "park", "facility_id"].astype(str).tolist()
    centre = fac.loc[fac["category"] == CAPACITY, "facility_id"].astype(str).tolist()

    def add(f, fid, category, dx, dy, area=np.nan):
        row = gpd.GeoDataFrame(
            {"facility_id": [fid], "category": [category], "name": ["新设施"], "floor_area_m2": [area]},
            geometry=[Point(canteen.x + dx, canteen.y + dy)],
            crs=f.crs,
        ).assign(source="user")
        return gpd.GeoDataFrame(pd.concat([f, row], ignore_index=True), geometry="geometry", crs=f.crs)

    def move(f, fid, dx, dy):
        out = f.copy()
        at = out.index[out["facility_id"].astype(str) == fid][0]
        g = out.geometry.iloc[at]
        out.loc[at, "geometry"] = Point(g.x + dx, g.y + dy)
        return out

    def drop(f, fid):
        return f[f["facility_id"].astype(str) != fid].reset_index(drop=True)

    steps = [
        (lambda f: add(f, "u1", "canteen", 0.004, 0.003), ["canteen"]),
        (lambda f: drop(f, park_ids[0]), ["park"]),
        (lambda f: move(f, centre[0], 0.01, -0.006), [CAPACITY]),
        (lambda f: add(move(f, "u1", -0.008, 0.0), "u2", CAPACITY, 0.002, 0.0, 15.0), ["canteen", CAPACITY]),
        (lambda f: drop(f, "u1"), ["canteen"]),
    ]
    replay(res, steps, PlanOptions())


def test_frames_built_ahead_equal_plain_frames():
    from circles.planning import _frames

    n = 4
    cases = {
        "strings": np.array(["a", "乙", "c", "d"], dtype=object),
        "unicode": np.array(["a", "b", "c", "dd"]),
        "with_nan": np.array(["a", np.nan, "c", "d"], dtype=object),
        "with_none": np.array(["a", None, "c", "d"], dtype=object),
        "all_nan": np.array([np.nan] * n, dtype=object),
        "mixed": np.array(["a", 1, "c", 2.5], dtype=object),
        "ints": np.arange(n),
        "floats": np.linspace(0, 1, n),
        "scalar_str": "x",
        "scalar_int": 3,
        "scalar_float": 0.5,
        "string_array": pd.array(["a", "b", "c", "d"], dtype="str"),
    }
    for name, value in cases.items():
        columns = {"row": np.arange(n), name: value}
        pd.testing.assert_frame_equal(_frames.frame(columns), pd.DataFrame(columns), check_dtype=True)
    empty = {"row": np.arange(0), "s": "x", "o": np.array([], dtype=object)}
    pd.testing.assert_frame_equal(_frames.frame(empty), pd.DataFrame(empty), check_dtype=True)
