"""``run_batch`` on the Chengdu extract with two Dask workers: the region cut into tiles equals the
single-process plan, partitions are GeoParquet, a broken job fails alone, a re-run does no work twice."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from circles.batch import load_jobs, run_batch
from circles.batch.outputs import BatchLayout, coverage_partition, weighted_median

HORIZON_S = 900.0
JOBS = """
[[job]]
name = "tiled"
region = "chengdu-central"
tile_km = 3
measure = "gaps"

[[job]]
name = "whole"
region = "chengdu-central"
tile_km = 0

[[job]]
name = "broken"
region = "chengdu-central"
communities = "missing/communities.gpkg:wgs84"

[[job]]
name = "misspelt"
region = "chengdu-central"
tiles_km = 3
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory, chengdu_osm, dask_client):
    folder = tmp_path_factory.mktemp("batch")
    jobs_file = folder / "jobs.toml"
    jobs_file.write_text(JOBS, encoding="utf-8")
    report = run_batch(load_jobs(jobs_file), folder / "out", client=dask_client, jobs_file=jobs_file)
    return jobs_file, report


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["community_id", "category"], ignore_index=True)


def test_the_region_is_cut_into_tiles_written_as_geoparquet(batch):
    _, report = batch
    tiled = next(j for j in report.jobs if j.name == "tiled")
    assert tiled.status == "done"
    n = tiled.info["tiles"]
    assert n >= 4 and len(tiled.info["tile_list"]) == n
    assert sum(t["communities"] for t in tiled.info["tile_list"]) == tiled.info["communities"]
    assert tiled.info["halo"]["halo_m"] == pytest.approx(900 * 1.1 + 500 + 300)
    layout = BatchLayout(report.out_dir)
    for k in range(n):
        part = layout.coverage_part("tiled", k)
        assert b"geo" in pq.read_schema(part).metadata  # GeoParquet metadata
        assert layout.gaps_part("tiled", k).exists()
        assert tiled.markers[k]["network_nodes"] < tiled.info["network"]["nodes"]  # a clipped network
    dataset = gpd.read_parquet(report.out_dir / "coverage")
    assert set(dataset["job"]) == {"tiled", "whole"} and dataset.crs == "EPSG:4326"
    assert not (layout.state_dir("tiled") / "staging").exists()  # staged inputs go once the job is done


def test_tiled_result_equals_the_single_process_plan(batch, default_plan_result):
    """Every share and weight bit for bit; nearest times to 1e-6 s: a facility standing exactly on a
    node where two streets meet is equally near both, the snap may pick either in a tile, and the two
    routes differ by graph.py's 1 ns floor on a zero-length step."""
    _, report = batch
    tiled = _by_key(gpd.read_parquet(report.out_dir / "coverage" / "job=tiled"))
    whole = _by_key(gpd.read_parquet(report.out_dir / "coverage" / "job=whole"))
    single = _by_key(coverage_partition(default_plan_result, HORIZON_S))
    for other in (whole, single):
        assert len(tiled) == len(other) == len(default_plan_result.coverage)
        assert (tiled[["community_id", "category"]] == other[["community_id", "category"]]).all().all()
        for col in ("total_weight", "covered_weight", "covered_share", "share_5", "share_10", "share_15"):
            assert np.array_equal(tiled[col].to_numpy(), other[col].to_numpy(), equal_nan=True), col
        for col in ("nearest_time_s", "nearest_walk_m"):
            a, b = tiled[col].to_numpy(), other[col].to_numpy()
            assert np.array_equal(np.isfinite(a), np.isfinite(b)), col
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        assert (tiled["nearest_facility_id"] == other["nearest_facility_id"]).all()
    assert (np.isfinite(single["nearest_time_s"]) & (single["nearest_time_s"] > 0)).any()
    # the library's own table: the same shares, row for row
    cov = default_plan_result.coverage
    comm_id = default_plan_result.data.communities["community_id"].astype(str).to_numpy()
    lib = _by_key(cov.assign(community_id=comm_id[cov["community_row"]]))
    assert np.array_equal(tiled["covered_share"].to_numpy(), lib["covered_share"].to_numpy(), equal_nan=True)


def test_nearest_times_are_the_library_medians_but_at_exact_half_weight_ties(default_plan_result):
    """Within the horizon the batch's weighted-median times are the plan's, except where a community's
    weight splits exactly in half: there the batch takes the lower value (its sums run per community),
    while the plan's running sum over all communities rounds either way."""
    r = default_plan_result
    pts = r.engine.points
    n = len(r.data.communities)
    differ = 0
    for key, t in r.times.items():
        mine, at = weighted_median(pts.community, t.time_s, pts.weight, n)
        lib = r.coverage.loc[r.coverage["category"] == key, "nearest_time_s"].to_numpy()
        other = np.flatnonzero(~((mine == lib) | (np.isnan(mine) & np.isnan(lib))))
        for c in other:
            sel = np.flatnonzero(pts.community == c)
            below = pts.weight[sel][t.time_s[sel] <= mine[c]].sum()
            assert below == pytest.approx(pts.weight[sel].sum() / 2, rel=1e-9)  # an exact half split
            assert lib[c] > mine[c] and t.time_s[at[c]] == mine[c]
        differ += len(other)
    assert differ < 0.01 * len(r.coverage)


def test_summary_matches_the_plan_summary(batch, default_plan_result):
    _, report = batch
    table = pd.read_parquet(report.out_dir / "summary.parquet")
    csv = pd.read_csv(report.out_dir / "summary.csv", encoding="utf-8-sig")
    assert len(csv) == len(table)
    expected = {c["category"]: c for c in default_plan_result.summary["categories"]}
    for job in ("tiled", "whole"):
        rows = table[table["job"] == job].set_index("category")
        assert list(rows.index) == list(expected)
        for key, c in expected.items():
            assert round(rows.loc[key, "covered_share"], 4) == c["covered_share"]
            assert round(rows.loc[key, "share_15min"], 4) == c["share_15min"]
            assert rows.loc[key, "communities"] == c["communities"]
            assert rows.loc[key, "communities_short"] == c["communities_short"]
            assert rows.loc[key, "facilities"] == sum(c["facilities"].values())
    failed = table[table["status"] == "failed"].set_index("job")
    assert set(failed.index) == {"broken", "misspelt"}
    assert "missing/communities.gpkg" in failed.loc["broken", "error"]


def test_a_broken_job_fails_alone_and_the_manifest_says_why(batch):
    jobs_file, report = batch
    status = {j.name: j.status for j in report.jobs}
    assert status == {"tiled": "done", "whole": "done", "broken": "failed", "misspelt": "failed"}
    manifest = json.loads((report.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["jobs_file"] == str(jobs_file) and manifest["counts"] == {
        "done": 2,
        "skipped": 0,
        "failed": 2,
    }
    assert manifest["cluster"]["workers"] == 2 and manifest["versions"]["distributed"]
    jobs = {j["name"]: j for j in manifest["jobs"]}
    broken = jobs["broken"]["errors"][0]
    assert broken["task"] == "prepare" and broken["type"] == "DataFileError"
    assert "communities.gpkg" in broken["message"] and "Traceback" in broken["traceback"]
    assert "unknown key(s) tiles_km" in jobs["misspelt"]["errors"][0]["message"]
    tiled = jobs["tiled"]
    assert tiled["partitions"] and all(
        p.startswith(("coverage/job=tiled/", "gaps/job=tiled/")) for p in tiled["partitions"]
    )
    assert any(i["path"].endswith("chengdu_central_2018.osm.pbf") for i in tiled["inputs"])


def test_a_rerun_skips_finished_partitions_and_resumes_missing_ones(batch, dask_client):
    jobs_file, report = batch
    layout = BatchLayout(report.out_dir)
    n = next(j for j in report.jobs if j.name == "tiled").info["tiles"]
    parts = [layout.coverage_part("tiled", k) for k in range(n)] + [layout.coverage_part("whole", 0)]
    mtimes = [p.stat().st_mtime_ns for p in parts]

    again = run_batch(load_jobs(jobs_file), report.out_dir, client=dask_client)
    status = {j.name: (j.status, j.tasks_run) for j in again.jobs}
    assert status["tiled"] == ("skipped", 0) and status["whole"] == ("skipped", 0)
    assert status["broken"] == ("failed", 1)  # failures are tried again
    assert [p.stat().st_mtime_ns for p in parts] == mtimes

    # lose one partition: only that tile is computed again (after its job is prepared anew)
    before = gpd.read_parquet(parts[1])
    parts[1].unlink()
    layout.tile_marker("tiled", 1).unlink()
    resumed = run_batch(load_jobs(jobs_file), report.out_dir, client=dask_client)
    tiled = next(j for j in resumed.jobs if j.name == "tiled")
    assert (tiled.status, tiled.tasks_run) == ("done", 2)
    assert [p.stat().st_mtime_ns for k, p in enumerate(parts) if k != 1] == [
        m for k, m in enumerate(mtimes) if k != 1
    ]
    after = gpd.read_parquet(parts[1])
    pd.testing.assert_frame_equal(pd.DataFrame(after), pd.DataFrame(before))
