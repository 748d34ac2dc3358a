"""Coverage and gaps on hand-checkable synthetic cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circles.catalog import load_catalog
from circles.config import get_profile
from circles.planning.coverage import (
    CoverageEngine,
    FacilityPoints,
    ResidentPoints,
    coverage_table,
    share_within,
)
from circles.planning.gaps import capacity_gaps, coverage_gaps, rank_gaps
from circles.routing.graph import ProfileGraph

from grids import X0, Y0, grid_network

CAT = load_catalog()


@pytest.fixture(scope="module")
def street():
    """41 x 5 grid of 100 m blocks: a 4 km long strip."""
    net = grid_network(41, 5)
    return {"walk": ProfileGraph(net, get_profile("walk")), "bike": ProfileGraph(net, get_profile("bike"))}


def points_around(cx, n=4, spread=20.0):
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([cx[0] + spread * np.cos(ang), cx[1] + spread * np.sin(ang)])


def make_points(centres, types, n=4):
    xy = np.vstack([points_around(c, n) for c in centres])
    comm = np.repeat(np.arange(len(centres)), n)
    return ResidentPoints(xy, comm, np.full(len(xy), 100.0 / n), np.asarray(types)[comm])


def canteen_at(x, y):
    return FacilityPoints(
        np.array([[x, y]]), np.array(["c1"]), np.array(["canteen"]), np.array(["食堂"]), np.array(["test"])
    )


def test_two_blocks_covered_twenty_blocks_not(street):
    fac = canteen_at(X0, Y0 + 200)
    # community A is 2 blocks east of the canteen, B is 20 blocks east; both urban (walk)
    centres = [(X0 + 200, Y0 + 200), (X0 + 2000, Y0 + 200)]
    pts = make_points(centres, ["urban", "urban"])
    eng = CoverageEngine(street, pts)
    cov, times = coverage_table(eng, CAT, np.array(["urban", "urban"]), fac, categories=["canteen"])
    a, b = cov.iloc[0], cov.iloc[1]
    assert a["share_10"] == 1.0 and a["covered_share"] == 1.0
    assert a["nearest_facility_id"] == "c1"
    # 200 m along the street plus the <= 20 m legs: about 3 minutes
    assert 200 / 1.1 <= a["nearest_time_s"] <= 260 / 1.1
    assert b["share_15"] == 0.0 and b["covered_share"] == 0.0
    assert b["nearest_time_s"] == pytest.approx(times["canteen"].time_s[pts.community == 1].min(), rel=0.2)
    assert b["nearest_walk_m"] > 1800


def test_rural_community_is_judged_by_bike(street):
    fac = canteen_at(X0, Y0 + 200)
    centres = [(X0 + 2000, Y0 + 200), (X0 + 2000, Y0 + 200)]
    pts = make_points(centres, ["urban", "rural"])
    eng = CoverageEngine(street, pts)
    cov, _ = coverage_table(eng, CAT, np.array(["urban", "rural"]), fac, categories=["canteen"])
    assert cov.loc[0, "covered_share"] == 0.0 and cov.loc[0, "profile"] == "walk"
    # 2 km at 3.6 m/s is 9.3 minutes: inside the rural 15-minute bicycle circle
    assert cov.loc[1, "covered_share"] == 1.0 and cov.loc[1, "profile"] == "bike"
    assert cov.loc[1, "nearest_time_s"] < 900


def test_partial_coverage_is_the_weighted_share(street):
    # points of one community at 0.5, 1.5 and 3 km from the facility; weights 1, 1, 2
    xy = np.array([[X0 + 500, Y0], [X0 + 1500, Y0], [X0 + 3000, Y0]])
    pts = ResidentPoints(xy, np.zeros(3, int), np.array([1.0, 1.0, 2.0]), np.array(["urban"] * 3))
    eng = CoverageEngine(street, pts)
    cov, _ = coverage_table(eng, CAT, np.array(["urban"]), canteen_at(X0, Y0), categories=["canteen"])
    row = cov.iloc[0]
    assert row["share_10"] == pytest.approx(0.25)  # 500 m = 7.6 min
    assert row["share_15"] == pytest.approx(0.25)  # 1500 m = 22.7 min
    assert row["total_weight"] == pytest.approx(4.0)


def test_no_facility_means_nothing_covered(street):
    pts = make_points([(X0 + 200, Y0 + 200)], ["urban"])
    eng = CoverageEngine(street, pts)
    empty = FacilityPoints(
        np.zeros((0, 2)), np.array([], str), np.array([], str), np.array([], str), np.array([], str)
    )
    cov, _ = coverage_table(eng, CAT, np.array(["urban"]), empty, categories=["canteen"])
    assert cov.loc[0, "covered_share"] == 0.0 and np.isinf(cov.loc[0, "nearest_time_s"])
    assert cov.loc[0, "nearest_facility_id"] == ""


def communities_frame(n, residents=None, households=None):
    return pd.DataFrame(
        {
            "community_id": [f"c{i}" for i in range(n)],
            "name": [f"社区{i}" for i in range(n)],
            "type": ["urban"] * n,
            "area_m2": [10000.0] * n,
            "residents": residents if residents is not None else [np.nan] * n,
            "households": households if households is not None else [np.nan] * n,
        }
    )


def test_gap_list_counts_uncovered_residents_and_ranks_by_severity(street):
    fac = canteen_at(X0, Y0 + 200)
    centres = [(X0 + 200, Y0 + 200), (X0 + 2000, Y0 + 200), (X0 + 3800, Y0 + 200)]
    pts = make_points(centres, ["urban"] * 3)
    eng = CoverageEngine(street, pts)
    cov, _ = coverage_table(eng, CAT, np.array(["urban"] * 3), fac, categories=["canteen"])
    comm = communities_frame(3, residents=[500.0, 800.0, 300.0])
    gaps = rank_gaps(coverage_gaps(cov, comm, CAT, "population"))
    assert list(gaps["community_id"]) == ["c1", "c2"]  # c0 is covered
    assert list(gaps["uncovered_residents"]) == [800.0, 300.0]
    assert list(gaps["severity_rank"]) == [1, 2]
    assert (gaps["kind"] == "coverage").all() and (gaps["threshold_min"] == 15).all()


def test_area_weighted_gaps_are_not_called_residents(street):
    pts = make_points([(X0 + 2000, Y0 + 200)], ["urban"])
    eng = CoverageEngine(street, pts)
    cov, _ = coverage_table(eng, CAT, np.array(["urban"]), canteen_at(X0, Y0), categories=["canteen"])
    gaps = coverage_gaps(cov, communities_frame(1), CAT, "area")
    assert gaps["uncovered_residents"].isna().all()
    assert gaps["uncovered_area_m2"].iloc[0] == pytest.approx(10000.0)


def test_labourer_harbour_applies_to_urban_communities_only(street):
    pts = make_points([(X0 + 2000, Y0 + 200)] * 2, ["urban", "rural"])
    eng = CoverageEngine(street, pts)
    types = np.array(["urban", "rural"])
    empty = FacilityPoints(
        np.zeros((0, 2)), np.array([], str), np.array([], str), np.array([], str), np.array([], str)
    )
    cov, _ = coverage_table(eng, CAT, types, empty, categories=["labourer_harbour"])
    comm = communities_frame(2).assign(type=types)
    gaps = coverage_gaps(cov, comm, CAT, "area")
    assert list(gaps["community_id"]) == ["c0"]


def test_capacity_shortfall_rows(street):
    # one centre of 100 m² serving two communities of 300 and 200 households: needs 150 m²
    fac = FacilityPoints(
        np.array([[X0 + 1000, Y0 + 200]]),
        np.array(["pc1"]),
        np.array(["party_service_centre"]),
        np.array(["中心"]),
        np.array(["test"]),
    )
    pts = make_points([(X0 + 900, Y0 + 200), (X0 + 1100, Y0 + 200)], ["urban", "urban"])
    eng = CoverageEngine(street, pts)
    cov, _ = coverage_table(eng, CAT, np.array(["urban", "urban"]), fac, categories=["party_service_centre"])
    comm = communities_frame(2, households=[300.0, 200.0])
    gaps = capacity_gaps(cov, comm, pd.DataFrame({"floor_area_m2": [100.0]}), CAT)
    assert len(gaps) == 2 and (gaps["kind"] == "capacity").all()
    assert gaps["shortfall_m2"].sum() == pytest.approx(50.0)
    assert gaps["required_m2"].sum() == pytest.approx(150.0)
    big = capacity_gaps(cov, comm, pd.DataFrame({"floor_area_m2": [150.0]}), CAT)
    assert big.empty


def test_weighted_median_per_group():
    from circles.planning.coverage import _weighted_median

    group = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    values = np.array([3.0, 1.0, 2.0, 10.0, np.inf, 5.0, 6.0, 7.0, 8.0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 5.0])
    med = _weighted_median(group, values, weights, 4)
    assert med[0] == 2.0  # 1, 2, 3 equally weighted
    assert np.isinf(med[1])  # most weight is unreached
    assert med[2] == 8.0  # 5 of 8 weight at 8
    assert np.isnan(med[3])  # no points


def test_share_within_is_the_level_share_for_any_minutes(street):
    # community 0: points at 0.5, 1.5 and 3 km from the canteen, weights 1, 1, 2; community 1: no point
    xy = np.array([[X0 + 500, Y0], [X0 + 1500, Y0], [X0 + 3000, Y0]])
    pts = ResidentPoints(xy, np.zeros(3, int), np.array([1.0, 1.0, 2.0]), np.array(["urban"] * 3))
    types = np.array(["urban", "urban"])
    eng = CoverageEngine(street, pts)
    cov, times = coverage_table(eng, CAT, types, canteen_at(X0, Y0), categories=["canteen"])
    t = times["canteen"]
    for lv in (5, 10, 15):
        np.testing.assert_array_equal(share_within(t, pts, types, lv), cov[f"share_{lv}"].to_numpy())
    # 1500 m at 1.1 m/s is 22.7 min, 3000 m is 45.5 min
    assert share_within(t, pts, types, 30)[0] == pytest.approx(0.5)
    assert share_within(t, pts, types, 60)[0] == pytest.approx(1.0)
    assert np.isnan(share_within(t, pts, types, 60)[1])  # no weight: no share


def test_point_snaps_are_public_and_read_only(street):
    pts = make_points([(X0 + 200, Y0 + 200), (X0 + 2000, Y0 + 200)], ["urban", "rural"])
    eng = CoverageEngine(street, pts)
    snaps = eng.point_snaps
    assert set(snaps) == {"walk", "bike"}
    idx, snap = snaps["bike"]
    np.testing.assert_array_equal(idx, np.flatnonzero(pts.ctype == "rural"))
    assert (snap.seg >= 0).all() and len(eng.unsnapped_points) == 0
    with pytest.raises(TypeError):
        snaps["walk"] = snaps["bike"]


def test_rollup_with_no_member_short_lists_nobody():
    """A group where every member meets its target has no worst members (and no error)."""
    import pandas as pd

    from circles.planning.rollup import rollup

    comm = pd.DataFrame({"name": ["a", "b"], "street": ["S", "T"]})
    rows = pd.DataFrame(
        {
            "community_row": [0, 1],
            "applies": [True, True],
            "total_weight": [10.0, 5.0],
            "covered_weight": [10.0, 5.0],
        }
    )
    out = rollup(rows, comm, "street", target_share=0.9)
    assert list(out["members_short"]) == [0, 0] and list(out["worst_members"]) == ["", ""]
    assert out["uncovered_weight"].sum() == 0


def test_weighted_median_does_not_depend_on_the_other_communities():
    """An exact half split (u + u = 2u) is decided within the community, whatever precedes it in the
    table: a running sum over the whole table rounds differently with large weights before it."""
    from circles.planning.coverage import _weighted_median

    u = 93.28703661209737
    values, weights = np.array([10.0, 20.0, 30.0]), np.array([u, u, 2 * u])
    alone = _weighted_median(np.zeros(3, int), values, weights, 1)[0]
    assert alone == 20.0  # the first value at which the cumulative weight reaches half: u + u
    rng = np.random.default_rng(1)
    for _ in range(200):
        before = rng.random(rng.integers(1, 30)) * 1e5
        g = np.concatenate([np.zeros(len(before), int), np.ones(3, int)])
        v = np.concatenate([rng.random(len(before)), values])
        w = np.concatenate([before, weights])
        assert _weighted_median(g, v, w, 2)[1] == alone
