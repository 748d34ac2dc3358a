"""A result derived by an edit (:func:`circles.pipeline.with_facilities`) computes its summary on first
read and rebuilds the gap rows of the changed categories only; both must equal what a full, eager
build gives (``circles plan``'s summary.json byte for byte)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from circles._common import json_default
from circles.catalog import load_catalog
from circles.outputs.plan_files import write_outputs
from circles.pipeline import PlanResult, with_facilities
from circles.planning.gaps import capacity_gaps, coverage_gaps, rank_gaps, update_gaps
from circles.planning.summary import region_summary


def summary_text(summary: dict) -> str:
    """summary.json's text (as :func:`circles.outputs.plan_files.write_outputs` writes it)."""
    return json.dumps(summary, ensure_ascii=False, indent=2, default=json_default)


def eager_summary(res: PlanResult, generated_at: str) -> dict:
    """The summary of ``res`` computed now, stamped ``generated_at`` (the only field that tells when)."""
    return {
        **region_summary(res.data, res.coverage, res.gaps, res.engine, res.timings_s),
        "generated_at": generated_at,
    }


def full_gaps(res: PlanResult) -> pd.DataFrame:
    """The gap list of ``res`` built from its whole coverage table (what :func:`run_plan` does)."""
    d = res.data
    return rank_gaps(
        coverage_gaps(res.coverage, d.communities, d.catalog, d.weight_kind),
        capacity_gaps(res.coverage, d.communities, d.facilities, d.catalog),
    )


@pytest.fixture(scope="module")
def without_canteens(default_plan_result):
    """The default plan with every canteen deleted (one changed category, many new gap rows)."""
    fac = default_plan_result.data.facilities
    return with_facilities(default_plan_result, fac[fac["category"] != "canteen"], ["canteen"])


def test_plan_writes_the_eager_summary_byte_for_byte(default_plan_result, tmp_path):
    res = default_plan_result
    assert res.summary_cache is not None  # run_plan computes it at once
    written = write_outputs(res, tmp_path)["summary.json"].read_text(encoding="utf-8")
    stamp = json.loads(written)["generated_at"]
    assert written == summary_text(eager_summary(res, stamp))
    # the same result with its summary left to first read gives the same text
    lazy = dataclasses.replace(res, summary_cache=None, caches={})
    assert summary_text({**lazy.summary, "generated_at": stamp}) == written


def test_an_edited_result_computes_its_summary_once_on_first_read(default_plan_result, monkeypatch):
    import circles.pipeline as pipeline

    fac = default_plan_result.data.facilities
    edited = with_facilities(default_plan_result, fac.drop(index=fac.index[0]), [str(fac["category"].iat[0])])
    assert edited.summary_cache is None  # the edit did not pay for it
    calls = []

    def slow_summary(*args):
        calls.append(1)
        time.sleep(0.05)  # readers arriving meanwhile wait for this one
        return region_summary(*args)

    monkeypatch.setattr(pipeline, "region_summary", slow_summary)
    seen: list[dict] = []
    readers = [threading.Thread(target=lambda: seen.append(edited.summary)) for _ in range(6)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert len(calls) == 1 and all(s is seen[0] for s in seen) and edited.summary is seen[0]
    assert summary_text(seen[0]) == summary_text(eager_summary(edited, seen[0]["generated_at"]))


def test_edited_summary_counts_the_edit(default_plan_result, without_canteens):
    before = {c["category"]: c for c in default_plan_result.summary["categories"]}
    after = {c["category"]: c for c in without_canteens.summary["categories"]}
    assert before["canteen"]["facilities"] and not after["canteen"]["facilities"]
    assert after["canteen"]["covered_share"] == 0.0
    assert after["park"] == before["park"]


def test_gap_rows_of_the_changed_category_only_equal_a_full_rebuild(default_plan_result, without_canteens):
    pd.testing.assert_frame_equal(without_canteens.gaps, full_gaps(without_canteens))
    canteen = without_canteens.gaps["category"] == "canteen"
    assert canteen.sum() > (default_plan_result.gaps["category"] == "canteen").sum()
    # one canteen added back: rows of the other categories kept, the ranks interleaved as a full build
    fac = without_canteens.data.facilities
    base = default_plan_result.data.facilities
    was = base[base["category"] == "canteen"].iloc[0].geometry  # where a canteen stood
    new = gpd.GeoDataFrame(
        {"facility_id": ["u1"], "category": ["canteen"], "name": ["新食堂"], "source": ["user"]},
        geometry=[Point(was.x, was.y)],
        crs=fac.crs,
    )
    added = with_facilities(without_canteens, pd.concat([fac, new], ignore_index=True), ["canteen"])
    pd.testing.assert_frame_equal(added.gaps, full_gaps(added))
    assert len(added.gaps) < len(without_canteens.gaps)


def test_update_gaps_with_capacity_rows_equals_a_full_rebuild(default_plan_result):
    """Households and floor areas made up for the default region: capacity rows, also of a category
    that changed, ranked among coverage rows as the full build ranks them."""
    res = default_plan_result
    d = res.data
    comm = d.communities.assign(households=(d.communities["residents_estimate"].fillna(900) / 2.5).round())
    fac = d.facilities.assign(floor_area_m2=np.random.default_rng(0).uniform(10, 400, len(d.facilities)))
    capacity = [c.key for c in d.catalog.values() if c.capacity_m2_per_100_households]
    assert capacity
    for changed in (capacity[:1], ["canteen"], ["park", *capacity]):
        before = res.coverage.copy()
        rows = before["category"].isin(changed)
        for col in ("covered_share", "nearest_facility_row"):
            before.loc[rows, col] = before.loc[rows, col].to_numpy()[::-1]
        previous = rank_gaps(
            coverage_gaps(before, comm, d.catalog, "households"),
            capacity_gaps(before, comm, fac, d.catalog),
        )
        full = rank_gaps(
            coverage_gaps(res.coverage, comm, d.catalog, "households"),
            capacity_gaps(res.coverage, comm, fac, d.catalog),
        )
        assert (full["kind"] == "capacity").any()
        got = update_gaps(previous, res.coverage, comm, fac, d.catalog, "households", changed)
        pd.testing.assert_frame_equal(got, full)


def tied_coverage(shares: dict[str, float]) -> pd.DataFrame:
    """Coverage rows of three equal communities per category, every one short by the same amount but
    ``shares`` per category: the gap rows tie in severity and nearest time."""
    rows = []
    for category, share in shares.items():
        for i in range(3):
            rows.append(
                {
                    "community_row": i,
                    "category": category,
                    "level_min": 15,
                    "threshold_min": 15.0,
                    "threshold_m": np.nan,
                    "measure": "time",
                    "profile": "walk",
                    "applies": True,
                    "covered_share": share,
                    "target_share": 1.0,
                    "nearest_time_s": 1200.0,
                    "nearest_walk_m": 1500.0,
                    "nearest_facility_row": 0,
                    "nearest_facility_id": "f0",
                    "nearest_facility_name": "",
                    "nearest_facility_source": "osm",
                }
            )
    return pd.DataFrame(rows)


def test_ties_keep_the_order_of_a_full_rebuild():
    catalog = load_catalog()
    comm = pd.DataFrame(
        {"community_id": ["a", "b", "c"], "name": ["甲", "乙", "丙"], "type": "urban", "area_m2": 1e4}
    )
    fac = pd.DataFrame({"floor_area_m2": [np.nan]})
    previous = rank_gaps(coverage_gaps(tied_coverage({"park": 0.5, "canteen": 0.5}), comm, catalog, "area"))
    for shares in (
        {"park": 0.5, "canteen": 0.5},
        {"park": 0.5, "canteen": 0.0},
        {"park": 0.5, "canteen": 1.0},
    ):
        cov = tied_coverage(shares)
        got = update_gaps(previous, cov, comm, fac, catalog, "area", ["canteen"])
        pd.testing.assert_frame_equal(got, rank_gaps(coverage_gaps(cov, comm, catalog, "area")))


def test_update_gaps_rebuilds_whole_when_community_ids_repeat():
    catalog = load_catalog()
    comm = pd.DataFrame(
        {"community_id": ["a", "a", "c"], "name": ["甲", "乙", "丙"], "type": "urban", "area_m2": 1e4}
    )
    fac = pd.DataFrame({"floor_area_m2": [np.nan]})
    previous = rank_gaps(coverage_gaps(tied_coverage({"park": 0.5, "canteen": 0.5}), comm, catalog, "area"))
    cov = tied_coverage({"park": 0.5, "canteen": 0.2})
    got = update_gaps(previous, cov, comm, fac, catalog, "area", ["canteen"])
    pd.testing.assert_frame_equal(got, rank_gaps(coverage_gaps(cov, comm, catalog, "area")))
