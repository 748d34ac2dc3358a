"""A tile's inputs on disk: what the job's preparing task hands to the tasks that compute its tiles.

Workers load their own data from paths; nothing large goes through the scheduler. One folder per tile::

    network.npz          the clipped StreetNetwork's arrays (network CRS metres; flags unchanged)
    communities.parquet  the tile's communities (GeoParquet, EPSG:4326, every column of the plan)
    points.parquet       their resident points (GeoParquet, network CRS) — made once for the whole
                         region, so every point and weight is the region's own
    facilities.parquet   the facilities inside the grown box (GeoParquet, EPSG:4326)
    tile.json            region, weighting, categories, snap distance, horizon, halo; written last

The folder lives on a file system every worker sees (the output folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from .._common import atomic_write
from ..catalog import load_catalog
from ..config import Region
from ..errors import DataFileError
from ..inputs import PlanOptions
from ..measures import DEFAULT_MEASURE
from ..pipeline import PlanData
from ..routing.network import StreetNetwork
from .outputs import read_json, write_json
from .tiling import TileInputs, tile_plan_data

__all__ = ["read_tile_plan", "region_from_record", "region_record", "write_tile_inputs"]

_NET_ARRAYS = (
    "node_xy",
    "seg_u",
    "seg_v",
    "seg_len_m",
    "foot_ok",
    "bike_ok",
    "bike_oneway",
    "steps",
    "snap_ok",
    "seg_way_id",
    "node_osm_id",
)


def region_record(region: Region) -> dict[str, Any]:
    """A :class:`~circles.config.Region` as JSON values."""
    return {
        "key": region.key,
        "osm_path": str(region.osm_path),
        "bbox": list(region.bbox),
        "metric_crs": region.metric_crs,
        "name_zh": region.name_zh,
        "name_en": region.name_en,
        "districts_path": None if region.districts_path is None else str(region.districts_path),
        "source": region.source,
    }


def region_from_record(rec: dict[str, Any]) -> Region:
    """The inverse of :func:`region_record`."""
    x0, y0, x1, y1 = (float(v) for v in rec["bbox"])
    return Region(
        key=rec["key"],
        osm_path=Path(rec["osm_path"]),
        bbox=(x0, y0, x1, y1),
        metric_crs=rec["metric_crs"],
        name_zh=rec.get("name_zh", ""),
        name_en=rec.get("name_en", ""),
        districts_path=None if rec.get("districts_path") is None else Path(rec["districts_path"]),
        source=rec.get("source", ""),
    )


def write_tile_inputs(inputs: TileInputs, folder: Path, meta: dict[str, Any]) -> Path:
    """Write one tile's inputs to ``folder`` (see the module docstring); ``meta`` goes into
    ``tile.json`` together with the network's CRS and source. Returns the folder."""
    folder = Path(folder)
    net = inputs.net
    arrays = {name: getattr(net, name) for name in _NET_ARRAYS if getattr(net, name) is not None}
    atomic_write(folder / "network.npz", lambda p: _save_npz(p, arrays))
    atomic_write(folder / "communities.parquet", inputs.communities.to_parquet)
    atomic_write(folder / "points.parquet", inputs.points.to_parquet)
    atomic_write(folder / "facilities.parquet", inputs.facilities.to_parquet)
    write_json(
        folder / "tile.json",
        {
            **meta,
            "tile": inputs.tile.as_dict(),
            "core_box_m": list(inputs.core_box_m),
            "halo_box_m": list(inputs.halo_box_m),
            "network": {
                "crs": net.crs,
                "source": net.source,
                "nodes": net.n_nodes,
                "segments": net.n_segments,
            },
        },
    )
    return folder


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to the temporary name
        np.savez(f, **arrays)


def read_tile_plan(folder: Path) -> tuple[PlanData, PlanOptions, dict[str, Any]]:
    """A staged tile as :class:`~circles.pipeline.PlanData` ready for :func:`~circles.pipeline.run_plan`
    (graphs built for the profiles its communities use), the options it runs with and its
    ``tile.json``. :class:`~circles.batch.tiling.TilingError` when the tile cannot be computed alone."""
    folder = Path(folder)
    meta = read_json(folder / "tile.json")
    if meta is None:
        raise DataFileError(f"{folder}: staged tile inputs are missing or incomplete (no tile.json)")
    with np.load(folder / "network.npz", allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    net = StreetNetwork(crs=meta["network"]["crs"], source=meta["network"]["source"], **arrays)
    data = tile_plan_data(
        net,
        gpd.read_parquet(folder / "communities.parquet"),
        gpd.read_parquet(folder / "points.parquet"),
        gpd.read_parquet(folder / "facilities.parquet"),
        region=region_from_record(meta["region"]),
        catalog=load_catalog(),
        weight_kind=meta["weight_kind"],
        measure=str(meta.get("travel_measure") or DEFAULT_MEASURE),
    )
    opts = PlanOptions(
        region=data.region.key,
        categories=meta["categories"],
        max_snap_m=float(meta["max_snap_m"]),
        measure=data.measure,
    )
    return data, opts, meta
