"""The files of ``circles plan --out DIR``: coverage (GeoJSON and long-form CSV), the gap list (CSV and
GeoJSON), the region summary (JSON) and the facilities used (GeoJSON). All EPSG:4326 with the OSM
attribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from .. import OSM_ATTRIBUTION
from .._common import WGS84, atomic_write, atomic_write_text, json_default
from ._geojson import write_geojson

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = ["coverage_layer", "gaps_layer", "write_outputs"]


def coverage_layer(result: PlanResult) -> gpd.GeoDataFrame:
    """Communities (EPSG:4326) with one column group per category: ``<key>_share`` (covered share at
    its threshold), ``<key>_min`` (weighted-median minutes to the nearest), ``<key>_nearest`` (name)."""
    comm = result.data.communities
    cols = ["community_id", "name", "type", "district", "area_m2", "households", "population", "residents"]
    out = comm[[c for c in cols if c in comm] + ["geometry"]].copy()
    for key, grp in result.coverage.groupby("category", sort=False):
        g = grp.set_index("community_row").reindex(np.arange(len(comm)))
        out[f"{key}_share"] = np.where(
            g["applies"].fillna(False).astype(bool), g["covered_share"].round(4), np.nan
        )
        out[f"{key}_min"] = (g["nearest_time_s"] / 60.0).round(2).replace(np.inf, np.nan)
        out[f"{key}_nearest"] = g["nearest_facility_name"].fillna("").to_numpy()
    if len(result.gaps):
        n = result.gaps[result.gaps["kind"] == "coverage"].groupby("community_id").size()
        out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    else:
        out["n_gaps"] = 0
    out["weight_kind"] = result.data.weight_kind
    return out


def gaps_layer(result: PlanResult) -> gpd.GeoDataFrame:
    """Gap rows with their community's polygon (EPSG:4326)."""
    geom = result.data.communities.set_index("community_id")["geometry"]
    g = result.gaps.copy()
    return gpd.GeoDataFrame(g, geometry=geom.reindex(g["community_id"]).to_numpy(), crs=WGS84)


def write_outputs(result: PlanResult, out_dir: Path) -> dict[str, Path]:
    """Write ``coverage.geojson``, ``coverage.csv`` (long form), ``gaps.csv``, ``gaps.geojson``,
    ``summary.json`` (and ``facilities.geojson``) into ``out_dir``. GeoJSON is EPSG:4326 (RFC 7946)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in (
            "coverage.geojson",
            "coverage.csv",
            "gaps.csv",
            "gaps.geojson",
            "summary.json",
            "facilities.geojson",
        )
    }
    members = {"attribution": OSM_ATTRIBUTION}
    write_geojson(coverage_layer(result).to_crs(WGS84), paths["coverage.geojson"], members)
    long = result.coverage.copy()
    long.insert(0, "community_id", result.data.communities["community_id"].to_numpy()[long["community_row"]])
    atomic_write(
        paths["coverage.csv"],
        lambda p: long.drop(columns=["community_row", "nearest_facility_row"]).to_csv(
            p, index=False, encoding="utf-8"
        ),
    )
    atomic_write(paths["gaps.csv"], lambda p: result.gaps.to_csv(p, index=False, encoding="utf-8"))
    # gap rows unreachable by any facility keep their infinite times (written as Infinity) for now
    write_geojson(gaps_layer(result).to_crs(WGS84), paths["gaps.geojson"], members)
    write_geojson(result.data.facilities.to_crs(WGS84), paths["facilities.geojson"], members)
    atomic_write_text(
        paths["summary.json"], json.dumps(result.summary, ensure_ascii=False, indent=2, default=json_default)
    )
    return paths
