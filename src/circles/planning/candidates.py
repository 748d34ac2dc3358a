"""Candidate micro-renewal sites (金角银边, 设施嵌入) of a plan: :func:`candidate_sites` combines the
region's OpenStreetMap candidates (:func:`circles.io.osm_candidates.osm_candidates`) with a file the user
gives (:func:`circles.io.candidates.read_candidates`); :func:`normalise_candidates` brings any candidate
table to :data:`CANDIDATE_COLUMNS`. The candidate table, its kinds and the readers live in
:mod:`circles.io`; they are re-exported here.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._common import WGS84
from ..errors import InputError
from ..io.candidates import (
    CANDIDATE_COLUMNS,
    CANDIDATE_KINDS,
    KIND_ZH,
    SMALL_GREEN_MAX_M2,
    CandidateKind,
    candidate_frame,
    read_candidates,
)
from ..io.file_spec import FileSpec
from ..io.osm_candidates import osm_candidates
from ..io.osm_features import DEFAULT_METRIC_CRS

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "DEFAULT_METRIC_CRS",
    "KIND_ZH",
    "SMALL_GREEN_MAX_M2",
    "CandidateKind",
    "candidate_sites",
    "normalise_candidates",
    "osm_candidates",
    "read_candidates",
]

log = logging.getLogger(__name__)


def candidate_sites(
    result: PlanResult,
    source: str | Path | FileSpec | None = None,
    crs: object = None,
    *,
    osm: bool = True,
    layer: str | int | None = None,
    crs_check: bool = True,
) -> gpd.GeoDataFrame:
    """The region's OSM candidates (when ``osm`` and the extract exists) plus the user's file ``source``
    (a path or ``FileSpec`` such as ``"sites.xlsx:gcj02"``, read with :func:`read_candidates`; sites
    outside the region dropped) whose coordinate system is checked against the map like every input
    (refused when the evidence is overwhelming, unless ``crs_check`` is false; the verdict is in
    ``attrs['input_check']``). Ids must be unique across both."""
    from ..io.crs_inputs import CrsReferenceSource, check_file_crs

    data = result.data
    region = data.region
    frames = []
    if osm and region.osm_path.exists():
        frames.append(osm_candidates(region.osm_path, bbox=region.bbox, metric_crs=region.metric_crs))
    check = None
    if source is not None:
        user = read_candidates(
            source, crs=crs, bbox=region.bbox, on_outside="drop", layer=layer, metric_crs=region.metric_crs
        )
        walk = data.graphs.get("walk") or next(iter(data.graphs.values()))
        ref = CrsReferenceSource(region, data.net, walk)
        ref.osm_facilities = data.facilities[data.facilities["source"] == "osm"]
        check = check_file_crs(user, "candidate sites", ref, enabled=crs_check)
        frames.append(user)
    if not frames:
        return candidate_frame([], [])
    out = pd.concat([f[list(CANDIDATE_COLUMNS) + ["geometry"]] for f in frames], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)
    dup = out["site_id"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            "duplicate candidate site ids across OSM and the candidates file: "
            + ", ".join(dict.fromkeys(out.loc[dup, "site_id"].astype(str)[:10]))
        )
    if check is not None:
        out.attrs["input_check"] = check
    return out


def normalise_candidates(cands: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidates as :data:`CANDIDATE_COLUMNS` + geometry in EPSG:4326 (missing columns filled)."""
    if not isinstance(cands, gpd.GeoDataFrame):
        raise InputError("candidates must be a GeoDataFrame (see read_candidates / osm_candidates)")
    if cands.crs is None:
        raise InputError("candidates have no CRS")
    c = cands.to_crs(WGS84).reset_index(drop=True)
    n = len(c)
    out = gpd.GeoDataFrame(
        {
            "site_id": c["site_id"].astype(str)
            if "site_id" in c
            else pd.Series([f"site:{i + 1}" for i in range(n)], dtype=object),
            "kind": c["kind"].fillna("user").astype(str) if "kind" in c else "user",
            "kind_zh": c["kind_zh"].fillna("").astype(str) if "kind_zh" in c else "",
            "name": c["name"].fillna("").astype(str) if "name" in c else "",
            "area_m2": pd.to_numeric(c["area_m2"], errors="coerce") if "area_m2" in c else np.nan,
            "source": c["source"].fillna("user").astype(str) if "source" in c else "user",
            "osm_tag": c["osm_tag"].fillna("").astype(str) if "osm_tag" in c else "",
            "tags": c["tags"].fillna("").astype(str) if "tags" in c else "",
            "user_usable": pd.to_numeric(c["user_usable"], errors="coerce") if "user_usable" in c else np.nan,
            "user_reason": c["user_reason"].fillna("").astype(str) if "user_reason" in c else "",
        },
        geometry=c.geometry.to_numpy(),
        crs=WGS84,
    )
    if out["site_id"].duplicated().any():
        raise InputError(
            "duplicate candidate site ids: "
            + ", ".join(dict.fromkeys(out.loc[out["site_id"].duplicated(), "site_id"][:10]))
        )
    missing = shapely.is_missing(out.geometry.to_numpy()) | shapely.is_empty(out.geometry.to_numpy())
    if missing.any():
        raise InputError("candidates without geometry: " + ", ".join(out.loc[missing, "site_id"][:10]))
    return out


# --- the covering problem -----------------------------------------------------------------------
