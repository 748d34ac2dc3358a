"""The work a batch sends to Dask workers. Each task loads its own data from paths and returns a small
record; networks and tables never pass through the scheduler.

* :func:`prepare_job` loads a job's plan data once (network, communities, facilities, resident points:
  the same :func:`circles.pipeline.load_plan_data` as ``circles plan``). A job whose communities fit in
  one tile is computed right there; a larger one is cut into tiles whose inputs are staged on disk.
* :func:`run_tile` computes one staged tile and writes its partition.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inputs import PlanOptions
from ..pipeline import PlanData, load_plan_data, run_plan
from ..routing.graph import DEFAULT_MIN_SNAP_COMPONENT_M
from .jobs import Job
from .outputs import BatchLayout, write_json, write_partition
from .staging import read_tile_plan, region_record, write_tile_inputs
from .tiling import (
    HaloBound,
    Tile,
    community_profiles,
    community_types,
    distance_horizon_m,
    halo_bound,
    horizon_s,
    representative_xy,
    tile_grid,
    tile_inputs,
)

__all__ = ["JobSettings", "job_tiles", "prepare_job", "run_tile"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSettings:
    """How a job is cut and reported: ``tile_m`` (tile side, metres; 0 never tiles) and
    ``horizon_min`` (nearest times reported up to it; None: the largest threshold)."""

    tile_m: float
    horizon_min: float | None = None


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_tiles(data: PlanData, tile_m: float) -> list[Tile]:
    """The tiles of a loaded job: one when ``tile_m`` is 0, when the communities fit in one square, or
    when the region's own network is too fragmented for the halo argument (its largest piece is an
    island; see :mod:`circles.batch.tiling`)."""
    everything = Tile(0, 0, 0, (0.0, 0.0, 0.0, 0.0), tuple(range(len(data.communities))))
    if tile_m <= 0 or len(data.communities) == 0:
        return [everything]
    if any(g.islands.main_street_m < DEFAULT_MIN_SNAP_COMPONENT_M for g in data.graphs.values()):
        log.warning("%s: network too fragmented to tile; computed whole", data.region.key)
        return [everything]
    tiles = tile_grid(representative_xy(data.communities, data.net.crs), tile_m)
    return tiles if len(tiles) > 1 else [everything]


def _job_info(
    job: Job, data: PlanData, bound: HaloBound, tiles: list[Tile], fingerprint: str
) -> dict[str, Any]:
    fac = data.facilities
    return {
        "job": job.name,
        "fingerprint": fingerprint,
        "region": data.region.key,
        "region_name": data.region.name_zh or data.region.name_en,
        "network": {"nodes": data.net.n_nodes, "segments": data.net.n_segments, "crs": data.net.crs},
        "communities": len(data.communities),
        "resident_points": len(data.points),
        "facilities": {str(k): int(v) for k, v in fac["category"].value_counts().items()} if len(fac) else {},
        "weight_kind": data.weight_kind,
        "notes": list(data.notes),
        "input_checks": data.input_checks,
        "horizon_s": bound.horizon_s,
        "halo": bound.as_dict(),
        "tiles": len(tiles),
        "tile_list": [t.as_dict() for t in tiles] if len(tiles) > 1 else [],
    }


def prepare_job(job: Job, out_dir: str, fingerprint: str, settings: JobSettings) -> dict[str, Any]:
    """Load ``job`` and either compute it whole (one tile) or stage its tiles.

    Returns the job record (``_state/<job>/job.json``) with ``pending``: the tiles still to compute
    (empty when done here) and ``markers``: the finished partitions' markers."""
    t0 = time.perf_counter()
    layout = BatchLayout(Path(out_dir))
    opts = job.plan_options()
    data = load_plan_data(opts)
    types = community_types(data.communities)
    horizon = horizon_s(data.catalog, opts.categories, types, settings.horizon_min)
    bound = halo_bound(
        data.graphs, community_profiles(types) or {"walk"}, _reach_s(data, opts, horizon), opts.max_snap_m
    )
    tiles = job_tiles(data, settings.tile_m)
    info = _job_info(job, data, bound, tiles, fingerprint)
    t_load = time.perf_counter() - t0
    markers: dict[int, dict[str, Any]] = {}
    pending: list[int] = []
    if len(tiles) == 1:
        result = run_plan(data, opts)
        extra = {"worker": _worker(), "elapsed_s": time.perf_counter() - t0, "load_s": t_load}
        markers[0] = write_partition(
            layout,
            job.name,
            0,
            result,
            horizon_s=horizon,
            fingerprint=fingerprint,
            measure=job.measure,
            extra=extra,
        )
    else:
        meta = {
            "job": job.name,
            "fingerprint": fingerprint,
            "measure": job.measure,
            "travel_measure": data.measure,
            "region": region_record(data.region),
            "weight_kind": data.weight_kind,
            "categories": opts.categories,
            "max_snap_m": opts.max_snap_m,
            "horizon_s": horizon,
            "halo": bound.as_dict(),
        }
        for tile in tiles:
            done = layout.finished_tile(job.name, tile.index, fingerprint)
            if done is not None:
                markers[tile.index] = done
                continue
            inputs = tile_inputs(tile, data.net, data.communities, data.points, data.facilities, bound.halo_m)
            write_tile_inputs(inputs, layout.staging(job.name, tile.index), meta)
            pending.append(tile.index)
    info["prepare_s"] = time.perf_counter() - t0
    info["worker"] = _worker()
    write_json(layout.job_info(job.name), info)
    return {**info, "pending": pending, "markers": markers}


def _reach_s(data: PlanData, opts: PlanOptions, horizon: float) -> float:
    """The time the halo must cover, seconds: the job's horizon, or under the ``distance`` measure at
    least its largest walking distance (metres; a 1 m/s search's seconds), which the walking profile's
    speed (over 1 m/s) turns into a halo of at least that many metres."""
    if data.measure != "distance":
        return horizon
    types = community_types(data.communities)
    return max(horizon, distance_horizon_m(data.catalog, opts.categories, types))


def run_tile(job_name: str, tile: int, out_dir: str, fingerprint: str) -> dict[str, Any]:
    """Compute one staged tile of a job and write its partition; returns the partition's marker."""
    t0 = time.perf_counter()
    layout = BatchLayout(Path(out_dir))
    data, opts, meta = read_tile_plan(layout.staging(job_name, tile))
    t_load = time.perf_counter() - t0
    result = run_plan(data, opts)
    extra = {
        "worker": _worker(),
        "load_s": t_load,
        "elapsed_s": time.perf_counter() - t0,
        "network_nodes": data.net.n_nodes,
        "facilities_in_halo": len(data.facilities),
    }
    return write_partition(
        layout,
        job_name,
        tile,
        result,
        horizon_s=float(meta["horizon_s"]),
        fingerprint=fingerprint,
        measure=str(meta["measure"]),
        extra=extra,
    )
