"""Many places in one batch on Dask distributed: a job list (:mod:`.jobs`), tiles with a halo for large
regions (:mod:`.tiling`), the tasks workers run (:mod:`.tasks`), the client that schedules them
(:mod:`.runner`) and what a batch writes (:mod:`.outputs`). ``circles batch`` is :mod:`.cli`.

Dask is imported only when a batch runs.
"""

from .jobs import JOB_KEYS, MEASURES, TRAVEL_MEASURES, BadJob, Job, load_jobs, parse_job
from .outputs import COVERAGE_COLUMNS, SUMMARY_COLUMNS, BatchLayout, coverage_partition
from .runner import (
    DEFAULT_TILE_KM,
    BatchEvent,
    BatchOptions,
    BatchReport,
    JobOutcome,
    batch_client,
    job_fingerprint,
    run_batch,
)
from .tasks import JobSettings, job_tiles, prepare_job, run_tile
from .tiling import (
    HaloBound,
    Tile,
    TileInputs,
    TilingError,
    clip_network,
    distance_horizon_m,
    halo_bound,
    horizon_s,
    tile_grid,
    tile_inputs,
    tile_plan_data,
)

__all__ = [
    "COVERAGE_COLUMNS",
    "DEFAULT_TILE_KM",
    "JOB_KEYS",
    "MEASURES",
    "SUMMARY_COLUMNS",
    "TRAVEL_MEASURES",
    "BadJob",
    "BatchEvent",
    "BatchLayout",
    "BatchOptions",
    "BatchReport",
    "HaloBound",
    "Job",
    "JobOutcome",
    "JobSettings",
    "Tile",
    "TileInputs",
    "TilingError",
    "batch_client",
    "clip_network",
    "coverage_partition",
    "distance_horizon_m",
    "halo_bound",
    "horizon_s",
    "job_fingerprint",
    "job_tiles",
    "load_jobs",
    "parse_job",
    "prepare_job",
    "run_batch",
    "run_tile",
    "tile_grid",
    "tile_inputs",
    "tile_plan_data",
]
