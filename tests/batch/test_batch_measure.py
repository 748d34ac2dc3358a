"""A batch job judged by distance (``travel_measure = "distance"``): its coverage rows say so with their
thresholds in metres, and the region cut into tiles (the halo covering the largest distance) gives the
same rows as the region computed whole."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from circles.batch import Job, JobSettings, job_fingerprint, load_jobs, prepare_job, run_tile
from circles.batch.outputs import BatchLayout

JOBS = """
[defaults]
region = "chengdu-central"
categories = ["kindergarten"]
travel_measure = "distance"

[[job]]
name = "tiled"
tile_km = 3

[[job]]
name = "whole"
tile_km = 0
"""


@pytest.fixture(scope="module")
def distance_batch(tmp_path_factory, chengdu_osm):
    """The jobs run in this process by the tasks the workers run (no cluster needed)."""
    folder = tmp_path_factory.mktemp("distance_batch")
    jobs_file = folder / "jobs.toml"
    jobs_file.write_text(JOBS, encoding="utf-8")
    out, tiles = folder / "out", {}
    for job in load_jobs(jobs_file):
        assert isinstance(job, Job)
        settings = JobSettings(tile_m=float(job.tile_km or 0.0) * 1000.0)
        fingerprint, _ = job_fingerprint(job, settings)
        record = prepare_job(job, str(out), fingerprint, settings)
        for tile in record["pending"]:
            run_tile(job.name, tile, str(out), fingerprint)
        tiles[job.name] = record["tiles"]
    return BatchLayout(out), tiles


def _rows(layout: BatchLayout, job: str) -> pd.DataFrame:
    frame = gpd.read_parquet(layout.root / "coverage" / f"job={job}")
    frame = pd.DataFrame(frame.drop(columns=["geometry", "job", "tile"], errors="ignore"))
    return frame.sort_values(["community_id", "category"], ignore_index=True)


def test_a_distance_job_is_judged_in_metres_tiled_or_whole(distance_batch):
    layout, tiles = distance_batch
    assert tiles["tiled"] > 1 and tiles["whole"] == 1
    tiled, whole = _rows(layout, "tiled"), _rows(layout, "whole")
    walking = whole["community_type"].isin(["urban", "industrial"]).to_numpy()
    assert walking.any()
    assert (whole.loc[walking, "measure"] == "distance").all()
    assert (whole.loc[walking, "threshold_m"] == 300.0).all()  # kindergartens: the 5-minute level, 300 m
    assert whole.loc[walking, "threshold_min"].isna().all()
    assert len(tiled) == len(whole)
    pd.testing.assert_frame_equal(
        tiled[whole.columns].reset_index(drop=True), whole.reset_index(drop=True), check_dtype=False
    )
    assert np.isfinite(whole["covered_share"].to_numpy(dtype=float)).any()
