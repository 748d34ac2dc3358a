"""The two measures: ``time`` (minutes at the profile's speed) and ``distance`` (network walking metres per
level, GB 50180-2018), on a hand-made straight street with hand-worked answers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from circles.catalog import load_catalog
from circles.cli import app
from circles.config import get_profile
from circles.errors import InputError
from circles.inputs import PlanOptions
from circles.measures import check_measure, distance_profile, judged_by, search_profile
from circles.outputs.plan_files import write_outputs
from circles.pipeline import run_plan
from circles.planning.coverage import CoverageEngine, FacilityPoints, ResidentPoints, coverage_table
from circles.planning.gaps import coverage_gaps
from circles.planning.queries import coverage_at
from circles.routing.graph import ProfileGraph
from circles.routing.isochrones import isochrones

from grids import X0, Y0, grid_network
from synthetic_line import synthetic_plan

CAT = load_catalog()
WALK = get_profile("walk")


@pytest.fixture(scope="module")
def line():
    """A straight 2 km street of 100 m blocks, with the walk, bike and walk-distance graphs."""
    net = grid_network(21, 1)
    return {
        "walk": ProfileGraph(net, WALK),
        "bike": ProfileGraph(net, get_profile("bike")),
        "walk_distance": ProfileGraph(net, distance_profile(WALK)),
    }


def residents_at(*xs: float, types: tuple[str, ...] | None = None) -> ResidentPoints:
    """One community per point, on the street at X0 + x (metres), weight 1 each."""
    n = len(xs)
    ctype = np.array(types or ("urban",) * n)
    return ResidentPoints(
        np.column_stack([X0 + np.array(xs), np.full(n, Y0)]), np.arange(n), np.ones(n), ctype
    )


def facilities_at_origin(*categories: str) -> FacilityPoints:
    """One facility of each category at the street's west end (X0, Y0)."""
    n = len(categories)
    return FacilityPoints(
        np.tile([X0, Y0], (n, 1)).astype(float),
        np.array([f"f{i}" for i in range(n)]),
        np.array(categories),
        np.array([f"设施{i}" for i in range(n)]),
        np.array(["test"] * n),
    )


def coverage(line, pts: ResidentPoints, measure: str, *categories: str) -> pd.DataFrame:
    eng = CoverageEngine(line, pts, measure=measure)
    cov, _ = coverage_table(
        eng, CAT, pts.ctype, facilities_at_origin(*categories), categories=list(categories)
    )
    return cov.set_index(["category", "community_row"])


def test_the_catalog_states_both_measures_for_every_level() -> None:
    assert [(lv.minutes, lv.walk_m) for lv in CAT.level_table] == [(5, 300), (10, 500), (15, 1000)]
    for lv in CAT.level_table:
        assert any("walk_m" in s and "GB 50180-2018" in s for s in lv.sources)
        assert any("minutes" in s for s in lv.sources)
    assert CAT["park"].threshold("urban", "distance") == ("m", 500.0)
    assert CAT["park"].threshold("urban", "time") == ("min", 10.0)
    assert CAT["kindergarten"].threshold_m("industrial") == 300.0
    assert CAT["canteen"].thresholds_m == {"urban": 1000.0, "industrial": 1000.0}
    assert CAT.level_threshold(15, "rural", "distance") == ("min", 15.0)
    with pytest.raises(InputError, match="bicycle"):
        CAT["park"].threshold_m("rural")


def test_measure_names_and_distance_twin() -> None:
    assert check_measure("distance") == "distance"
    with pytest.raises(InputError, match="time.*distance"):
        check_measure("metres")
    assert judged_by("urban", "distance") == "distance" and judged_by("rural", "distance") == "time"
    assert search_profile("walk", "urban", "distance") == "walk_distance"
    assert search_profile("bike", "rural", "distance") == "bike"
    twin = distance_profile(get_profile("elderly"))
    assert twin.speed_m_s == 1.0 and twin.steps_speed_factor == 1.0 and twin.offstreet_speed_m_s == 1.0
    assert twin.measure == "distance" and twin.reference_speed_m_s == pytest.approx(0.9) and twin.steps


def test_450_m_covers_the_10_minute_level_by_distance_but_not_the_5_minute_level(line) -> None:
    cov = coverage(line, residents_at(450.0), "distance", "park", "kindergarten")
    park, kg = cov.loc[("park", 0)], cov.loc[("kindergarten", 0)]
    assert park["measure"] == "distance" and park["threshold_m"] == 500 and np.isnan(park["threshold_min"])
    assert park["covered_share"] == 1.0  # 450 m <= 500 m
    assert kg["threshold_m"] == 300 and kg["covered_share"] == 0.0  # 450 m > 300 m
    assert park["nearest_walk_m"] == pytest.approx(450.0, abs=1e-6)
    assert park["nearest_time_s"] == pytest.approx(450.0 / 1.1, abs=1e-6)  # the walk at 1.1 m/s
    # the level shares are judged at the levels' metres: 300 m no, 500 and 1000 m yes
    assert (park["share_5"], park["share_10"], park["share_15"]) == (0.0, 1.0, 1.0)


def test_time_and_distance_differ_between_500_and_660_m(line) -> None:
    """10 minutes at 1.1 m/s is 660 m: a park 600 m away is inside it but outside GB 50180's 500 m."""
    pts = residents_at(600.0)
    by_time = coverage(line, pts, "time", "park").loc[("park", 0)]
    by_distance = coverage(line, pts, "distance", "park").loc[("park", 0)]
    assert (
        by_time["measure"] == "time" and by_time["threshold_min"] == 10 and np.isnan(by_time["threshold_m"])
    )
    assert by_time["covered_share"] == 1.0 and by_distance["covered_share"] == 0.0
    # the nearest facility is the same search either way
    assert by_time["nearest_walk_m"] == pytest.approx(by_distance["nearest_walk_m"], abs=1e-6)


def test_rural_communities_keep_bicycle_minutes_under_distance(line) -> None:
    cov = coverage(line, residents_at(450.0, 1800.0, types=("urban", "rural")), "distance", "park")
    urban, rural = cov.loc[("park", 0)], cov.loc[("park", 1)]
    assert urban["measure"] == "distance" and rural["measure"] == "time"
    assert rural["profile"] == "bike" and rural["threshold_min"] == 10 and np.isnan(rural["threshold_m"])
    assert rural["covered_share"] == 1.0  # 1.8 km by bicycle at 3.6 m/s: 8.3 min <= 10 min


def test_gaps_carry_the_measure_and_judge_severity_in_metres(line) -> None:
    pts = residents_at(450.0, 1400.0)
    eng = CoverageEngine(line, pts, measure="distance")
    cov, _ = coverage_table(
        eng, CAT, pts.ctype, facilities_at_origin("kindergarten"), categories=["kindergarten"]
    )
    comm = pd.DataFrame(
        {
            "community_id": ["a", "b"],
            "name": ["甲", "乙"],
            "type": "urban",
            "area_m2": 100.0,
            "residents": 10.0,
        }
    )
    gaps = coverage_gaps(cov, comm, CAT, "population").set_index("community_id")
    assert set(gaps["measure"]) == {"distance"} and set(gaps["threshold_m"]) == {300.0}
    assert gaps.loc["a", "severity"] == pytest.approx(10 * 450 / 300)  # uncovered 10 x 1.5
    assert gaps.loc["b", "severity"] == pytest.approx(10 * 4.0)  # 1400 / 300 > 4: capped


def test_a_distance_isochrone_reaches_its_metres(line) -> None:
    g = line["walk_distance"]
    snap = g.snap(np.array([[X0 + 1000.0, Y0]]))
    (iso,) = isochrones(g, snap, [500 / 60.0])  # the twin's "minutes" are metres / 60
    assert iso.street_m == pytest.approx(1000.0, rel=1e-6)  # 500 m each way along the street


def distance_plan(tmp_path):
    """The synthetic straight-street plan (tests/synthetic_line.py) re-run by distance."""
    res = synthetic_plan(tmp_path)
    graphs = {**res.data.graphs, "walk_distance": ProfileGraph(res.data.net, distance_profile(WALK))}
    data = dataclasses.replace(res.data, graphs=graphs, measure="distance")
    return run_plan(data, PlanOptions(region="synthetic", categories=["canteen"], measure="distance"))


def test_plan_outputs_carry_the_measure_and_thresholds_in_metres(tmp_path) -> None:
    res = distance_plan(tmp_path)
    paths = write_outputs(res, tmp_path / "out")
    cov = pd.read_csv(paths["coverage.csv"], encoding="utf-8-sig")
    assert set(cov["measure"]) == {"distance"} and set(cov["threshold_m"]) == {1000}
    assert "threshold_min" not in cov  # every community walks: no minutes to show
    assert {"share_300m_pct", "share_500m_pct", "share_1000m_pct"} <= set(cov.columns)
    gaps = pd.read_csv(paths["gaps.csv"], encoding="utf-8-sig")
    assert len(gaps) and set(gaps["measure"]) == {"distance"} and set(gaps["threshold_m"]) == {1000}
    summary = json.loads(paths["summary.json"].read_text(encoding="utf-8"))
    assert summary["measure"] == "distance"
    assert [lv["threshold"] for lv in summary["levels"]] == ["300 m", "500 m", "1000 m"]
    assert summary["categories"][0]["threshold_m"] == [1000.0]
    layer = json.loads(paths["coverage.geojson"].read_text(encoding="utf-8"))
    props = layer["features"][0]["properties"]
    assert props["measure"] == "distance"
    # a time plan says so too, and shows no empty metre thresholds
    time_paths = write_outputs(synthetic_plan(tmp_path), tmp_path / "time")
    tcov = pd.read_csv(time_paths["coverage.csv"], encoding="utf-8-sig")
    assert set(tcov["measure"]) == {"time"} and "threshold_m" not in tcov and "share_5min_pct" in tcov


def test_queries_judge_within_any_distance(tmp_path) -> None:
    res = synthetic_plan(tmp_path)  # canteen at 6600 m; p7 at 6500 m is 100 m away
    rows = coverage_at(res, "canteen", walk_m=150.0).set_index("community_row")
    assert set(rows["measure"]) == {"distance"} and set(rows["threshold_m"]) == {150.0}
    assert rows["covered_share"].max() == 1.0 and (rows["covered_share"] == 1.0).sum() == 1
    with pytest.raises(InputError):
        coverage_at(res, "canteen", 10, walk_m=500.0)


def test_cli_refuses_a_bad_measure_in_one_line(tmp_path) -> None:
    res = CliRunner().invoke(app, ["plan", "--measure", "metres", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown measure 'metres'" in lines[0] and "distance" in lines[0]
    assert not (tmp_path / "o").exists()
