"""Candidate sites and the maximal covering choice, on cases worked out by hand.

The street is a straight line (a 71 x 1 grid of 100 m blocks, 7 km long, walking 1.1 m/s), so the
15-minute canteen threshold is 990 m of street either way and every answer can be read off a ruler:

    x (m):   1200  1800  2400 2700 3000 3300 3600  4200  4800       6400 6500 6600
             p5    B     p1   p2   A    p3   p4    C     p6         D    p7   F (existing canteen)
    weight:  150         100  100       100  100         150             1000

    A (3000) reaches p1 p2 p3 p4           = 400
    B (1800, a 40 m square 30 m off the street) reaches p5 p1 p2  (p2: 30 + 900 = 930 m) = 350
    C (4200) reaches p3 p4 p6              = 350
    D (6400) reaches only p7, which the existing canteen F already covers: it adds nothing.

k = 1: A (400).  k = 2: greedy takes A then B or C (550); the optimum is B + C = 700, which covers
everyone who can be covered; the LP bound is 700 too (x_A = a, x_B = x_C = b, a + 2b <= 2 gives at
most 4 min(1, a+b) + 3b <= 7 hundred). k >= 3: still B + C (A would be redundant).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse
from shapely.geometry import Point

from circles.errors import DataFileError, InputError
from circles.planning.candidates import CANDIDATE_COLUMNS, osm_candidates, read_candidates
from circles.planning.mclp import MclpSolution, greedy_mclp, solve_mclp
from circles.planning.sites import SITE_COLUMNS, choose_sites, coverage_matrix

from grids import X0, Y0
from synthetic_line import CRS, NAMES, POINTS, WEIGHTS, synthetic_candidates, synthetic_plan, to_wgs  # noqa: F401


@pytest.fixture(scope="module")
def plan_line(tmp_path_factory):
    return synthetic_plan(tmp_path_factory.mktemp("line"))


# --- the solver on its own -----------------------------------------------------------------------

# rows p1..p6, columns A B C
HAND = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=bool)
HAND_W = np.array([1, 1, 1, 1, 1.5, 1.5])


def test_milp_beats_greedy_on_the_hand_case():
    sol = solve_mclp(HAND, HAND_W, 2)
    assert sol.method == "MILP (HiGHS)" and sol.optimal and sol.status == "Optimal"
    assert sorted(sol.chosen) == [1, 2]
    assert (
        sol.objective == pytest.approx(7.0)
        and sol.bound == pytest.approx(7.0)
        and sol.gap == pytest.approx(0.0)
    )
    assert sol.greedy_objective == pytest.approx(5.5) and sol.greedy_chosen[0] == 0
    assert sol.lp_bound == pytest.approx(7.0)
    # 6 rows, 4 distinct patterns ({A,B} twice, {A,C} twice, {B}, {C}): 3 x + 4 y variables
    assert sol.n_groups == 4 and sol.n_variables == 7 and sol.n_constraints == 5


def test_greedy_reports_its_gap_to_the_lp_bound():
    sol = solve_mclp(HAND, HAND_W, 2, method="greedy")
    assert sol.method == "greedy" and not sol.optimal
    assert sol.objective == pytest.approx(5.5) and sol.bound == pytest.approx(7.0)
    assert sol.gap == pytest.approx(1.5 / 7.0)
    assert greedy_mclp(sparse.csr_matrix(HAND), HAND_W, 2) == ([0, 1], pytest.approx(5.5))


def test_time_limit_falls_back_to_greedy_with_a_gap(monkeypatch):
    import circles.planning.mclp as sites

    def stopped(sets, w, n_cand, k, time_limit_s):
        return {
            "status": "Time limit reached",
            "optimal": False,
            "time_limit": True,
            "x": None,
            "objective": float("nan"),
            "dual_bound": 7.0,
            "time_s": time_limit_s,
            "nnz": 0,
        }

    monkeypatch.setattr(sites, "_run_milp", stopped)
    sol = solve_mclp(HAND, HAND_W, 2, time_limit_s=0.5)
    assert sol.method.startswith("greedy") and "time limit" in sol.method
    assert sol.objective == pytest.approx(5.5) and sol.bound == pytest.approx(7.0)
    assert sol.gap == pytest.approx(1.5 / 7.0) and not sol.optimal


def test_k_larger_than_the_candidates_takes_every_useful_one_and_drops_redundant_ones():
    sol = solve_mclp(HAND, HAND_W, 10)
    assert sorted(sol.chosen) == [1, 2]  # A adds nothing once B and C are in
    assert sol.objective == pytest.approx(7.0) and sol.optimal and sol.gap == 0
    # a column that reaches nobody is never taken
    A = np.column_stack([HAND, np.zeros(6, bool)])
    assert 3 not in solve_mclp(A, HAND_W, 4).chosen


def test_nothing_to_cover():
    sol = solve_mclp(np.zeros((3, 2), bool), np.ones(3), 2)
    assert sol.chosen == [] and sol.objective == 0 and sol.optimal
    sol = solve_mclp(HAND, np.zeros(6), 2)
    assert sol.chosen == [] and sol.objective == 0


def test_trivial_solution_says_why():
    sol = MclpSolution.trivial("trivial (no usable candidate)")
    assert sol.chosen == [] and sol.objective == 0 and sol.bound == 0 and sol.gap == 0
    assert sol.optimal and sol.status == "Optimal" and sol.method == "trivial (no usable candidate)"
    assert sol.n_groups == 0 and sol.n_variables == 0 and sol.n_constraints == 1


def test_the_solver_does_not_modify_its_inputs():
    A, w = HAND.copy(), HAND_W.copy()
    solve_mclp(A, w, 2)
    np.testing.assert_array_equal(A, HAND)
    np.testing.assert_array_equal(w, HAND_W)


@pytest.mark.parametrize("seed", range(6))
def test_milp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    A = rng.random((40, 9)) < 0.25
    w = rng.integers(1, 20, 40).astype(float)
    for k in (1, 2, 3, 4):
        best = max(w[A[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(9), k))
        sol = solve_mclp(A, w, k)
        assert sol.optimal and sol.objective == pytest.approx(best)
        assert w[A[:, sol.chosen].any(axis=1)].sum() == pytest.approx(best) and len(sol.chosen) <= k
        assert sol.greedy_objective <= best + 1e-9 and sol.lp_bound >= best - 1e-6


def test_bad_arguments():
    with pytest.raises(InputError):
        solve_mclp(HAND, HAND_W, 0)
    with pytest.raises(InputError):
        solve_mclp(HAND, HAND_W, 2, method="simplex")
    with pytest.raises(InputError):
        solve_mclp(HAND, HAND_W[:3], 2)
    with pytest.raises(InputError):
        solve_mclp(HAND, -HAND_W, 2)


# --- on the street -------------------------------------------------------------------------------


def test_coverage_matrix_on_the_street(plan_line):
    cands = synthetic_candidates()
    xy = np.array([[X0 + 3000, Y0], [X0 + 1800, Y0 + 30], [X0 + 4200, Y0], [X0 + 6400, Y0]])
    A, snap_m, best = coverage_matrix(plan_line, "canteen", xy)
    got = {p: sorted("ABCD"[j] for j in A[i].indices) for i, p in enumerate(POINTS)}
    assert got == {
        "p1": ["A", "B"],
        "p2": ["A", "B"],
        "p3": ["A", "C"],
        "p4": ["A", "C"],
        "p5": ["B"],
        "p6": ["C"],
        "p7": ["D"],
    }
    np.testing.assert_allclose(snap_m, [0, 30, 0, 0], atol=1e-6)
    # p2 is reached from A (300 m) sooner than from B (930 m)
    assert best[1] == pytest.approx(300 / 1.1)
    assert len(cands) == 4


def test_choice_is_the_hand_optimum(plan_line):
    ch = choose_sites(plan_line, "canteen", 2, synthetic_candidates())
    s = ch.solution
    assert s.method == "MILP (HiGHS)" and s.optimal
    assert ch.objective == pytest.approx(700.0) and s.greedy_objective == pytest.approx(550.0)
    assert list(ch.sites["site_id"]) == ["B", "C"]  # equal gains: the lower index ranks first
    assert list(ch.sites["rank"]) == [1, 2]
    assert list(ch.sites.columns) == [*SITE_COLUMNS, "geometry"]
    b, c = ch.sites.iloc[0], ch.sites.iloc[1]
    assert b["new_weight"] == pytest.approx(350) and b["added_weight"] == pytest.approx(350)
    assert b["new_residents"] == pytest.approx(350) and c["added_residents"] == pytest.approx(350)
    # the communities whose gap each site closes (one point each: share 0 -> 1)
    assert b["closes_ids"] == "c1; c2; c5" and b["n_closed"] == 3 and c["closes_ids"] == "c3; c4; c6"
    assert b["closes_gaps"] == "测试小区1; 测试小区2; 测试小区5"
    assert ch.gaps_before == 6 and ch.gaps_closed == 6  # c7 is covered by the existing canteen
    # size: B is a 40 m square (its polygon is kept), C as given
    assert b["area_m2"] == pytest.approx(1600, rel=1e-3) and b.geometry.geom_type == "Polygon"
    assert c["area_m2"] == pytest.approx(300) and c.geometry.geom_type == "Point"
    assert b["snap_m"] == pytest.approx(30, abs=0.1)
    assert b["baseline"] == "sample:1" and (ch.sites["weight_kind"] == "population").all()
    assert ch.baseline == {"sample": 1} and any("SAMPLE" in n for n in ch.notes)
    # the per-community table
    t = ch.communities
    assert set(t.loc[t["site_id"] == "B", "community_id"]) == {"c1", "c2", "c5"}
    assert t["closes_gap"].all() and (t["share_before"] == 0).all() and (t["share_after"] == 1).all()


def test_describe_names_the_method_and_the_sites(plan_line):
    lines = choose_sites(plan_line, "canteen", 2, synthetic_candidates()).describe()
    assert lines[0] == "canteen 社区食堂: 2 site(s) (k = 2) by MILP (HiGHS)"
    assert "newly covered: 700 residents (bound 700, gap 0.00%; greedy 550)" in lines[1]
    assert lines[2].startswith(
        "#1 B 用户候选 乙停车场 (1,600 m², 40 × 40 m, source user): +350 residents, "
        "closes 3 gap(s): 测试小区1"
    )


def test_existing_facilities_stay_fixed(plan_line, tmp_path):
    ch = choose_sites(plan_line, "canteen", 1, synthetic_candidates())
    assert list(ch.sites["site_id"]) == ["A"] and ch.objective == pytest.approx(400)
    cand = ch.candidates.set_index("site_id")
    # D reaches p7 (weight 1000) but the existing canteen F already covers it: D adds nothing
    assert cand.loc["D", "new_weight"] == 0
    np.testing.assert_allclose(cand.loc[["A", "B", "C"], "new_weight"], [400, 350, 350])
    assert ch.covered_before == pytest.approx(1000) and ch.uncovered_before == pytest.approx(700)
    assert ch.total_weight == pytest.approx(1700)
    # without F, D would be the first choice, were it not too small for a canteen (50 < 150 m²)
    res2 = synthetic_plan(tmp_path, facilities=())
    ch2 = choose_sites(res2, "canteen", 1, synthetic_candidates(), respect_min_area=False)
    assert list(ch2.sites["site_id"]) == ["D"] and ch2.objective == pytest.approx(1000)
    ch3 = choose_sites(res2, "canteen", 1, synthetic_candidates())
    assert (
        list(ch3.sites["site_id"]) == ["A"]
        and "too_small" in ch3.candidates.set_index("site_id").loc["D", "rules"]
    )


def test_k_larger_than_the_candidates(plan_line):
    ch = choose_sites(plan_line, "canteen", 10, synthetic_candidates())
    assert sorted(ch.sites["site_id"]) == ["B", "C"] and ch.objective == pytest.approx(700)
    assert ch.solution.optimal and ch.solution.method.startswith("exact")
    d = ch.as_dict()
    json.dumps(d, ensure_ascii=False)  # JSON-ready
    assert d["after"]["covered_weight"] == pytest.approx(1700) and d["after"]["covered_share"] == 1.0
    assert d["objective_unit"] == "residents" and d["attribution"].startswith("©")


def test_no_uncovered_residents(tmp_path):
    res = synthetic_plan(
        tmp_path,
        facilities=(
            ("F1", 3000.0, "canteen", "osm"),
            ("F2", 1500.0, "canteen", "osm"),
            ("F3", 4500.0, "canteen", "osm"),
            ("F4", 6500.0, "canteen", "osm"),
        ),
    )
    ch = choose_sites(res, "canteen", 3, synthetic_candidates())
    assert len(ch.sites) == 0 and ch.objective == 0 and ch.solution.optimal
    assert ch.solution.method.startswith("trivial") and ch.gaps_before == 0
    assert any("already covered" in n for n in ch.notes)
    cand = ch.candidates.set_index("site_id")
    assert cand.loc[["A", "B", "C"], "usable"].all() and not cand.loc["D", "usable"]  # D: 50 m² < 150 m²
    assert "150 m²" in cand.loc["D", "reason"] and "小于社区食堂所需的 150 m²" in cand.loc["D", "reason"]
    assert np.isfinite(cand.loc[["A", "B", "C"], "snap_m"]).all()  # snapped all the same
    assert list(ch.sites.columns) == [*SITE_COLUMNS, "geometry"]


def test_area_weights_are_never_called_residents(tmp_path):
    res = synthetic_plan(tmp_path, weight_kind="area")
    ch = choose_sites(res, "canteen", 2, synthetic_candidates())
    assert ch.objective == pytest.approx(700)
    assert ch.sites["new_residents"].isna().all() and ch.sites["added_residents"].isna().all()
    np.testing.assert_allclose(ch.sites["new_area_m2"], [350, 350])
    d = ch.as_dict()
    assert "residents" not in d["objective_unit"] and "m²" in d["objective_unit"]
    assert all(s["new_residents"] is None for s in d["sites"])
    lines = ch.describe()
    assert all("residents" not in line for line in lines if not line.startswith("note:"))
    assert "700 m² of residential area" in lines[1]


def test_a_partly_covered_community_is_not_closed(tmp_path):
    # c1 has two points 2 km apart; B (1800, 30 m off) reaches a (830 m) but not b (1230 m): share 0.6
    pts = {"a": 1000, "b": 3000}
    res = synthetic_plan(
        tmp_path,
        points=pts,
        weights={"a": 60.0, "b": 40.0},
        community_of={"a": "c1", "b": "c1"},
        facilities=(),
    )
    cands = synthetic_candidates()[lambda d: d["site_id"].isin(["B"])]
    ch = choose_sites(res, "canteen", 1, cands)
    assert list(ch.sites["site_id"]) == ["B"] and ch.objective == pytest.approx(60)
    row = ch.communities.iloc[0]
    assert row["share_after"] == pytest.approx(0.6) and not row["closes_gap"]
    assert ch.sites["n_closed"].iat[0] == 0 and ch.sites["closes_gaps"].iat[0] == ""


def test_unusable_candidates_are_reported(tmp_path):
    res = synthetic_plan(tmp_path, categories=("canteen", "labourer_harbour"))
    far = [("far", 3000, 2000, np.nan), ("tiny", 3000, 0, 10.0)]
    ch = choose_sites(res, "labourer_harbour", 2, synthetic_candidates(far))
    cand = ch.candidates.set_index("site_id")
    assert not cand.loc["far", "usable"] and "street" in cand.loc["far", "reason"]
    assert not cand.loc["tiny", "usable"] and "15" in cand.loc["tiny", "reason"]  # site_min_area_m2 = 15
    assert "tiny" not in set(ch.sites["site_id"]) and "far" not in set(ch.sites["site_id"])
    # without the size rule the tiny site (at A's place) is as good as A
    ch2 = choose_sites(res, "labourer_harbour", 1, synthetic_candidates(far), respect_min_area=False)
    assert ch2.candidates.set_index("site_id").loc["tiny", "new_weight"] == pytest.approx(400)


def test_bad_inputs(plan_line):
    with pytest.raises(InputError):
        choose_sites(plan_line, "canteen", 0, synthetic_candidates())
    with pytest.raises(InputError):
        choose_sites(plan_line, "nonsense", 2, synthetic_candidates())
    dup = pd.concat([synthetic_candidates(), synthetic_candidates()], ignore_index=True)
    with pytest.raises(InputError, match="duplicate"):
        choose_sites(plan_line, "canteen", 2, gpd.GeoDataFrame(dup, crs="EPSG:4326"))


# --- candidates from OSM and from files ----------------------------------------------------------

LON0, LAT0 = 104.08, 30.68
M_LON = 1 / (111_320 * math.cos(math.radians(LAT0)))
M_LAT = 1 / 110_574


def _osm(path: Path) -> Path:
    nodes, ways, nid = [], [], [0]

    def node(x, y, tags=None, ident=None):
        nid[0] += 1
        i = ident or nid[0]
        t = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        nodes.append(f'<node id="{i}" lat="{LAT0 + y * M_LAT:.8f}" lon="{LON0 + x * M_LON:.8f}">{t}</node>')
        return i

    def rect(wid, x0, y0, x1, y1, tags):
        ids = [node(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        t = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        refs = "".join(f'<nd ref="{i:d}"/>' for i in [*ids, ids[0]])
        ways.append(f'<way id="{wid}">{refs}{t}</way>')

    rect(101, 0, 0, 50, 40, {"amenity": "parking", "parking": "surface", "name": "东门停车场"})  # 2000 m²
    rect(102, 100, 0, 130, 30, {"amenity": "parking", "parking": "underground"})  # not surface: no
    rect(103, 200, 0, 300, 100, {"landuse": "brownfield"})  # 10,000 m²
    rect(104, 400, 0, 420, 20, {"building": "yes", "disused:shop": "supermarket", "name": "旧超市"})
    rect(105, 500, 0, 700, 200, {"leisure": "park", "name": "大公园"})  # 40,000 m²: too big
    rect(106, 800, 0, 830, 30, {"landuse": "grass"})  # 900 m²
    rect(107, 900, 0, 910, 10, {"building": "yes"})  # an ordinary building: no
    node(1000, 0, {"amenity": "parking"}, ident=9001)
    node(1100, 0, {"amenity": "marketplace", "name": "菜市场"}, ident=9002)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        + "\n".join(nodes + ways)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return path


def test_osm_candidates_by_kind(tmp_path):
    c = osm_candidates(_osm(tmp_path / "c.osm"))
    assert list(c.columns) == [*CANDIDATE_COLUMNS, "geometry"] and c.crs == "EPSG:4326"
    got = dict(zip(c["site_id"], c["kind"]))
    assert got == {
        "osm:w104": "idle_building",
        "osm:w103": "vacant_land",
        "osm:w101": "parking",
        "osm:n9001": "parking",
        "osm:w105": "green_space",  # a 4 ha park: kept, the rules say why it is not usable
        "osm:w106": "green_space",
        "osm:n9002": "market",
    }
    assert json.loads(c.set_index("site_id").loc["osm:w105", "tags"]) == {"leisure": "park", "name": "大公园"}
    c = c.set_index("site_id")
    assert c.loc["osm:w101", "area_m2"] == pytest.approx(2000, rel=0.01)
    assert c.loc["osm:w103", "area_m2"] == pytest.approx(10000, rel=0.01)
    assert math.isnan(c.loc["osm:n9001", "area_m2"])
    assert c.loc["osm:w101", "name"] == "东门停车场" and c.loc["osm:w104", "osm_tag"].startswith(
        "building=yes, disused:shop"
    )
    assert (
        c.loc["osm:w101", "geometry"].geom_type == "Polygon"
        and c.loc["osm:n9001", "geometry"].geom_type == "Point"
    )
    assert (c["source"] == "osm").all() and c.loc["osm:w101", "kind_zh"] == "停车场"
    # bbox keeps sites whose representative point is inside
    box_ = (LON0 - 0.001, LAT0 - 0.001, LON0 + 150 * M_LON, LAT0 + 0.001)
    assert list(osm_candidates(tmp_path / "c.osm", bbox=box_)["site_id"]) == ["osm:w101"]


def test_read_candidates_points_polygons_and_gcj02(tmp_path):
    from circles.io.coords import wgs84_to_gcj02

    lon, lat = 104.07, 30.67
    glon, glat = wgs84_to_gcj02(lon, lat)
    poly = shapely.Polygon(
        [(glon, glat), (glon + 0.0005, glat), (glon + 0.0005, glat + 0.0004), (glon, glat + 0.0004)]
    )
    gdf = gpd.GeoDataFrame(
        {
            "id": ["s1", None],
            "name": ["闲置厂房", "街角"],
            "kind": ["idle_building", None],
            "area": [None, 35.0],
        },
        geometry=[poly, Point(glon, glat)],
        crs="EPSG:4326",
    )
    path = tmp_path / "cands.geojson"
    gdf.to_file(path, driver="GeoJSON")
    c = read_candidates(path, crs="gcj02")
    assert list(c.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert list(c["site_id"]) == ["s1", "cands:2"] and list(c["kind"]) == ["idle_building", "user"]
    assert (c["source"] == "user").all() and c["name"].iat[0] == "闲置厂房"
    x, y = c.geometry.iat[1].coords[0]
    assert abs(x - lon) < 1e-5 and abs(y - lat) < 1e-5  # converted back to WGS84
    assert c.geometry.iat[0].geom_type == "Polygon"
    assert c["area_m2"].iat[0] == pytest.approx(48 * 44, rel=0.1) and c["area_m2"].iat[1] == 35.0

    csv = tmp_path / "c.csv"
    csv.write_text("site_id,name,lon,lat\nq1,口袋公园,104.07,30.67\n", encoding="utf-8")
    assert read_candidates(csv, crs="wgs84")["name"].iat[0] == "口袋公园"
    csv.write_text("site_id,lon,lat\nq1,104.07,30.67\nq1,104.08,30.67\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="duplicate"):
        read_candidates(csv, crs="wgs84")
    line = gpd.GeoDataFrame(
        {"id": ["l"]}, geometry=[shapely.LineString([(104, 30.6), (104.01, 30.6)])], crs="EPSG:4326"
    )
    line.to_file(tmp_path / "l.geojson", driver="GeoJSON")
    with pytest.raises(DataFileError, match="points or polygons"):
        read_candidates(tmp_path / "l.geojson")


def test_candidate_sites_checks_the_declared_crs(plan_line, tmp_path):
    """Six GCJ-02 points on a (synthetic) street declared as WGS84: the check warns with its evidence
    (streets alone never refuse: a shift along a straight street keeps points on it)."""
    from circles.io.coords import wgs84_to_gcj02
    from circles.planning.candidates import candidate_sites

    pts = to_wgs([Point(X0 + x, Y0) for x in (500, 1500, 2500, 3500, 4500, 5500)])
    glon, glat = wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    df = pd.DataFrame({"site_id": [f"g{i}" for i in range(6)], "lon": glon, "lat": glat})
    path = tmp_path / "gcj.csv"
    df.to_csv(path, index=False)
    warned = candidate_sites(plan_line, path, "wgs84")
    check = warned.attrs["input_check"]["check"]
    assert check["status"] == "suspect" and check["alternative"] == "gcj02" and "GCJ-02" in check["message"]
    c = candidate_sites(plan_line, path, "gcj02")
    assert (
        c.attrs["input_check"]["check"]["status"] == "ok"
    )  # the region has no OSM extract here: the file only
    assert list(c["site_id"]) == [f"g{i}" for i in range(6)] and (c["source"] == "user").all()
    back = c.to_crs(CRS).geometry
    assert np.allclose(back.y, Y0, atol=1.0) and np.allclose(
        back.x, X0 + np.arange(500, 6000, 1000), atol=1.0
    )


def test_real_extract_candidates(chengdu_osm):
    from circles.config import get_region

    reg = get_region("chengdu-central")
    c = osm_candidates(chengdu_osm, bbox=reg.bbox, metric_crs=reg.metric_crs)
    counts = c["kind"].value_counts().to_dict()
    # the 2018 extract has surface parking, small green spaces, markets and one construction site,
    # but no brownfield/vacant land and no disused buildings
    assert (
        counts.get("parking", 0) >= 20
        and counts.get("green_space", 0) >= 10
        and counts.get("market", 0) >= 10
    )
    assert counts.get("idle_building", 0) == 0 and counts.get("vacant_land", 0) == 0
    assert c["site_id"].is_unique and (c.loc[c["kind"] == "green_space", "area_m2"] > 10_000).sum() >= 10


# --- suitability, dimensions and the brief -------------------------------------------------------


def test_chengdu_interchange_greens_and_private_gardens_are_not_chosen(default_plan_result):
    """The issue's cases on the real extract: 刃具立交 (an interchange green), the two leisure=garden
    patches, 沙河公园 and the 19 ha 府河桥市场 are offered as candidates but not usable, each with its
    reason in Chinese and English; the chosen sites carry their size."""
    ch = choose_sites(default_plan_result, "canteen", 5)
    cand = ch.candidates.set_index("site_id")
    assert cand["usable"].dtype == bool and (cand["reason"].str.len() > 0).all()
    blade = cand.loc["osm:w132543616"]  # 刃具立交
    assert blade["name"] == "刃具立交" and not blade["usable"]
    assert "interchange" in blade["rules"] and "立交" in blade["reason"] and "interchange" in blade["reason"]
    for garden in ("osm:w570290380", "osm:w570290396"):
        assert not cand.loc[garden, "usable"] and cand.loc[garden, "rules"] == "private_garden"
        assert "附属花园" in cand.loc[garden, "reason"] and "leisure=garden" in cand.loc[garden, "reason"]
    assert not cand.loc["osm:w193612365", "usable"] and "park" in cand.loc["osm:w193612365", "rules"]
    assert not cand.loc["osm:w550058838", "usable"] and "large_market" in cand.loc["osm:w550058838", "rules"]
    # the other two greens inside interchange loops of 府青立交
    assert not cand.loc[["osm:w132622899", "osm:w132221904"], "usable"].any()
    bad = {"osm:w132543616", "osm:w570290380", "osm:w570290396", "osm:w193612365", "osm:w550058838"}
    assert not bad & set(ch.sites["site_id"]) and len(ch.sites) == 5
    assert (cand.loc[list(ch.sites["site_id"]), "usable"]).all()
    s = ch.sites
    # parcels carry their size; a point candidate (an OSM node, e.g. a market) has none and says so by NaN
    poly = s.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    assert poly.sum() >= 4
    assert (s.loc[poly, "width_m"] > 10).all() and (s.loc[poly, "length_m"] >= s.loc[poly, "width_m"]).all()
    assert (s.loc[poly, "clear_width_m"] <= s.loc[poly, "width_m"] + 0.1).all()
    assert s.loc[~poly, "width_m"].isna().all() and s.loc[~poly, "length_m"].isna().all()
    # area-weighted plan: the floor area cannot be computed for want of households, and says so
    assert s["suggested_floor_m2"].isna().all() and s["floor_basis"].str.contains("no floor-area rule").all()
    assert (s["nearest_existing_m"] > 0).all() and s["nearest_existing_name"].str.contains("SAMPLE").all()
    assert any("not usable by the suitability rules" in n for n in ch.notes)
    centre = choose_sites(default_plan_result, "party_service_centre", 2)
    assert centre.sites["floor_basis"].str.contains("cannot be computed").all()


def test_dimensions_floor_area_and_nearest_existing(plan_line):
    from circles.catalog import load_catalog
    from circles.planning.site_brief import suggested_floor

    ch = choose_sites(plan_line, "canteen", 2, synthetic_candidates())
    b, c = ch.sites.iloc[0], ch.sites.iloc[1]
    assert (b["width_m"], b["length_m"], b["clear_width_m"]) == pytest.approx((40, 40, 40), abs=0.2)
    assert np.isnan(c["width_m"]) and np.isnan(c["length_m"])  # C is a point
    assert b["added_households"] == pytest.approx(350 / 2.49, abs=0.1)
    assert np.isnan(b["suggested_floor_m2"]) and "no floor-area rule" in b["floor_basis"]
    # C (4200) to the existing canteen F (6600): 2,400 m of street; B is beyond the hour's walk
    assert (
        c["nearest_existing_m"] == pytest.approx(2400, abs=2)
        and c["nearest_existing_name"] == "现有F (SAMPLE)"
    )
    assert c["nearest_existing_min"] == pytest.approx(2400 / 1.1 / 60, abs=0.1)
    assert np.isnan(b["nearest_existing_m"]) and b["nearest_existing_name"] == ""
    cat = load_catalog()
    hh, floor, basis = suggested_floor(cat["party_service_centre"], np.array([249.0, 2490.0]), True)
    np.testing.assert_allclose(hh, [100, 1000])
    np.testing.assert_allclose(floor, [30, 300])
    assert basis[0].startswith("按每百户 30 m² × 新增 100 户") and "30 m² per 100 households" in basis[0]
    hh, floor, basis = suggested_floor(cat["party_service_centre"], np.array([249.0]), False)
    assert np.isnan(floor[0]) and "cannot be computed" in basis[0]
    # 劳动者港湾 has no floor-area rule (the unsourced >= 25 m² minimum was removed, issue 16)
    _, floor, basis = suggested_floor(cat["labourer_harbour"], np.array([100.0]), True)
    assert np.isnan(floor[0]) and "no floor-area rule" in basis[0]


def test_user_verdicts_win_over_the_rules(plan_line, tmp_path):
    from circles.io.candidates import read_site_overrides

    csv_path = tmp_path / "overrides.csv"
    csv_path.write_text("编号,可用,原因\nA,否,业主不同意\nD,是,已协调\nZ,是,\n", encoding="utf-8-sig")
    verdicts = read_site_overrides(csv_path)
    assert list(verdicts["site_id"]) == ["A", "D", "Z"] and list(verdicts["user_usable"]) == [0.0, 1.0, 1.0]
    ch = choose_sites(plan_line, "canteen", 1, synthetic_candidates(), overrides=verdicts)
    cand = ch.candidates.set_index("site_id")
    assert not cand.loc["A", "usable"] and cand.loc["A", "reason"].startswith("用户指定不可用：业主不同意")
    assert cand.loc["D", "usable"] and "overriding rules too_small" in cand.loc["D", "reason"]
    assert cand.loc["D", "rules"] == "user, too_small"
    assert "A" not in set(ch.sites["site_id"]) and any("no candidate: Z" in n for n in ch.notes)
    bad = tmp_path / "bad.csv"
    bad.write_text("site_id,usable\nA,maybe\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="usable"):
        read_site_overrides(bad)
    bad.write_text("site_id,note\nA,x\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="usable"):
        read_site_overrides(bad)


def test_a_usable_column_in_the_candidates_file(tmp_path):
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        "编号,名称,经度,纬度,可用,原因\nq1,口袋公园,104.07,30.67,否,产权不清\nq2,街角,104.08,30.67,,\n",
        encoding="utf-8",
    )
    c = read_candidates(csv_path, crs="wgs84").set_index("site_id")
    assert c.loc["q1", "user_usable"] == 0.0 and c.loc["q1", "user_reason"] == "产权不清"
    assert np.isnan(c.loc["q2", "user_usable"]) and c.loc["q2", "user_reason"] == ""


def test_road_rules_on_a_drawn_interchange():
    from shapely.geometry import LineString, box

    from circles.catalog import load_catalog
    from circles.planning.suitability import SiteFacts, assess_sites, load_site_rules, site_dimensions

    rules = load_site_rules()
    # a 60 m loop of primary road with its ramp; a city block of 500 m bounded by primary roads
    streets = gpd.GeoDataFrame(
        {"highway": ["primary", "primary_link", "primary"]},
        geometry=[
            LineString([(0, 0), (60, 0), (60, 60), (0, 60), (0, 0)]),
            LineString([(60, 70), (200, 70)]),
            LineString([(1000, 0), (1500, 0), (1500, 500), (1000, 500), (1000, 0)]),
        ],
        crs="EPSG:32648",
    )
    sites = gpd.GeoDataFrame(
        {
            "kind": ["green_space", "green_space", "parking", "green_space", "green_space"],
            "name": ["", "", "", "东门立交绿地", ""],
            "area_m2": [900.0, 300.0, 2500.0, 400.0, 400.0],
            "tags": ["", "", "", "", json.dumps({"leisure": "garden", "access": "yes"})],
        },
        geometry=[
            box(15, 15, 45, 45),
            box(100, 75, 130, 85),
            box(1200, 200, 1250, 250),
            box(3000, 0, 3020, 20),
            box(4000, 0, 4020, 20),
        ],
        crs="EPSG:32648",
    )
    width, length, clear = site_dimensions(sites.geometry.to_numpy())
    v = assess_sites(SiteFacts.from_frame(sites, clear), rules, load_catalog()["canteen"], streets)
    assert list(v.usable) == [False, False, True, False, True]  # a public garden (access=yes) is fine
    assert v.rules[0] == "interchange" and "3,600 m²" in v.reason[0]
    assert v.rules[1] == "ramp_green" and "primary_link" in v.reason[1]
    assert v.rules[3] == "road_name" and "东门立交绿地" in v.reason[3]
    assert v.reason[2].startswith("可用") and "usable" in v.reason[2]
    np.testing.assert_allclose(width[[0, 1]], [30, 10])
    np.testing.assert_allclose(length[1], 30)


def test_the_rules_file_is_checked(tmp_path):
    from circles.planning.suitability import load_site_rules

    rules = load_site_rules()
    assert {"interchange", "private_garden", "park", "too_small", "too_narrow"} <= set(rules.ids)
    assert all(r.reason_zh and r.reason_en and r.source for r in rules.rules)
    base = 'id = "x"\nreason_zh = "中"\nreason_en = "en"\nsource = "s"\n'
    for body, match in (
        (base, "no condition"),
        (base + "area_above_m2 = -1\n", "area_above_m2"),
        (base + "colour = 1\narea_unknown = true\n", "unknown field"),
        (base + 'near_highway = { highway = ["primary"] }\n', "near_highway"),
    ):
        path = tmp_path / "r.toml"
        path.write_text("[[rule]]\n" + body, encoding="utf-8")
        with pytest.raises(DataFileError, match=match):
            load_site_rules(path)
    path.write_text(("[[rule]]\n" + base + "area_unknown = true\n") * 2, encoding="utf-8")
    with pytest.raises(DataFileError, match="duplicate"):
        load_site_rules(path)
