"""Candidate micro-renewal sites (金角银边, 设施嵌入): the candidate table, the kinds of site, and reading
a user's candidate file (points or polygons in WGS84, GCJ-02, BD-09 or an EPSG CRS, declared per
file).

The kinds are defined by the OpenStreetMap tags that mark them (surface parking, vacant and brownfield
land, construction sites, small green spaces, disused buildings, markets); :mod:`circles.io.osm_candidates`
finds them in an extract. Every table here is in WGS84 (EPSG:4326, degrees), areas in m².
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .._common import WGS84, BBox
from ..errors import DataFileError
from . import _files, _lonlat, _tables
from .file_spec import FileSpec
from .osm_features import DEFAULT_METRIC_CRS

__all__ = [
    "CANDIDATE_ALIASES",
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "CANDIDATE_SCHEMA",
    "KIND_ZH",
    "SMALL_GREEN_MAX_M2",
    "CandidateKind",
    "candidate_frame",
    "kind_of",
    "read_candidates",
]

log = logging.getLogger(__name__)

#: Columns of a candidate table (plus ``geometry``: the site's polygon where known, else a point).
CANDIDATE_COLUMNS: tuple[str, ...] = ("site_id", "kind", "kind_zh", "name", "area_m2", "source", "osm_tag")

#: Green spaces larger than this (m²) are not offered as sites: a pocket park or a grass corner can take
#: a small facility at its edge (金角银边), a real park is green space to keep. Project default.
SMALL_GREEN_MAX_M2 = 10_000.0


def candidate_frame(rows: list[dict[str, Any]], geoms: Sequence[BaseGeometry]) -> gpd.GeoDataFrame:
    """A candidate table (:data:`CANDIDATE_COLUMNS` + geometry, EPSG:4326) from row dicts."""
    df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    df = df.astype({c: object for c in CANDIDATE_COLUMNS if c != "area_m2"} | {"area_m2": "float64"})
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(list(geoms), crs=WGS84, index=df.index), crs=WGS84)


# --- kinds of site: OSM tag rules ---------------------------------------------------------------

_LANDUSE_VACANT = {"brownfield", "greenfield", "vacant"}
_LANDUSE_GREEN = {"grass", "village_green", "meadow"}
_LEISURE_GREEN = {"park", "garden"}
_BUILDING_IDLE = {"ruins", "abandoned", "disused", "derelict"}
_PARKING_NOT_SURFACE = {"underground", "multi-storey", "rooftop"}
_IDLE_FLAGS = ("disused", "abandoned")


def _parking(t: Mapping[str, str]) -> str | None:
    if t.get("amenity") == "parking" and t.get("parking") not in _PARKING_NOT_SURFACE:
        return "amenity=parking" + (f", parking={t['parking']}" if "parking" in t else "")
    return None


def _vacant(t: Mapping[str, str]) -> str | None:
    if t.get("landuse") in _LANDUSE_VACANT:
        return f"landuse={t['landuse']}"
    if t.get("vacant") == "yes" and "building" not in t:
        return "vacant=yes"
    return None


def _construction(t: Mapping[str, str]) -> str | None:
    return "landuse=construction" if t.get("landuse") == "construction" else None


def _idle_building(t: Mapping[str, str]) -> str | None:
    b = t.get("building")
    if b is None:
        return None
    if b in _BUILDING_IDLE:
        return f"building={b}"
    for flag in _IDLE_FLAGS:
        if t.get(flag) == "yes":
            return f"building={b}, {flag}=yes"
    prefixed = sorted(k for k in t if k.startswith(("disused:", "abandoned:")))
    if prefixed:
        return f"building={b}, {prefixed[0]}={t[prefixed[0]]}"
    if t.get("vacant") == "yes":
        return f"building={b}, vacant=yes"
    return None


def _green(t: Mapping[str, str]) -> str | None:
    if t.get("landuse") in _LANDUSE_GREEN:
        return f"landuse={t['landuse']}"
    if t.get("leisure") in _LEISURE_GREEN and t.get("access") not in ("private", "no"):
        return f"leisure={t['leisure']}"
    return None


def _market(t: Mapping[str, str]) -> str | None:
    return "amenity=marketplace" if t.get("amenity") == "marketplace" else None


@dataclass(frozen=True)
class CandidateKind:
    """One kind of OSM candidate site: ``match(tags)`` returns the matching tag text or None;
    sites larger than ``max_area_m2`` (m²) are not offered."""

    key: str
    name_zh: str
    description: str
    match: Callable[[Mapping[str, str]], str | None]
    max_area_m2: float | None = None


#: OSM candidate kinds, first match wins. An object with several matching tags gets the first kind.
CANDIDATE_KINDS: tuple[CandidateKind, ...] = (
    CandidateKind(
        "idle_building",
        "闲置建筑",
        "building with disused/abandoned/vacant tags or building=ruins",
        _idle_building,
    ),
    CandidateKind("vacant_land", "闲置用地", "landuse=brownfield|greenfield|vacant, vacant=yes", _vacant),
    CandidateKind(
        "parking",
        "停车场",
        "surface parking: amenity=parking (not underground/multi-storey/rooftop)",
        _parking,
    ),
    CandidateKind("construction", "在建用地", "landuse=construction (land being redeveloped)", _construction),
    CandidateKind(
        "green_space",
        "小型绿地",
        f"landuse=grass|village_green|meadow, leisure=park|garden up to "
        f"{SMALL_GREEN_MAX_M2:,.0f} m² (corner of a small green space; public access)",
        _green,
        SMALL_GREEN_MAX_M2,
    ),
    CandidateKind(
        "market", "集贸市场", "amenity=marketplace (功能置换: share an existing market building)", _market
    ),
)
#: Chinese name of each kind key, and of ``'user'`` (a site from the user's file without a kind).
KIND_ZH = {k.key: k.name_zh for k in CANDIDATE_KINDS} | {"user": "用户候选"}


def kind_of(tags: Mapping[str, str]) -> tuple[CandidateKind, str] | None:
    """The first :data:`CANDIDATE_KINDS` entry matching ``tags`` and the tag text that matched."""
    for kind in CANDIDATE_KINDS:
        text = kind.match(tags)
        if text:
            return kind, text
    return None


# --- candidates from a user file ----------------------------------------------------------------

#: Accepted input headers per output column, first found wins (any case, spaces, full-width forms or a
#: trailing note in brackets such as ``面积（㎡）``).
CANDIDATE_ALIASES: _tables.Aliases = {
    "site_id": (
        "site_id",
        "candidate_id",
        "candidate_",
        "id",
        "fid_",
        "编号",
        "地块编号",
        "点位编号",
        "序号",
    ),
    "name": ("name", "名称", "地块名称", "点位名称", "场地名称", "地址"),
    "kind": ("kind", "type", "类型", "类别", "用地类型", "场地类型"),
    "area_m2": ("area_m2", "area", "面积", "用地面积", "占地面积", "场地面积", "建筑面积"),
}
CANDIDATE_SCHEMA = _tables.Schema(
    "candidate sites", CANDIDATE_ALIASES, labels=("site_id", "name"), numeric=("area_m2",)
)


def read_candidates(
    source: str | Path | FileSpec,
    crs: object = None,
    bbox: BBox | None = None,
    *,
    on_outside: str = "error",
    layer: str | int | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Read a user's candidate sites (points or polygons) into the :data:`CANDIDATE_COLUMNS` table,
    EPSG:4326.

    ``source``, ``crs`` and ``layer`` as for :func:`circles.io.facilities.read_facilities` (Excel, CSV
    with longitude/latitude columns, GeoJSON, GeoPackage, Shapefile; a table without a declared
    coordinate system is refused). Optional columns (headers per :data:`CANDIDATE_ALIASES`):
    ``site_id`` (编号/id; blank ones become ``'<file stem>:<row>'``; must be unique), ``name``,
    ``kind`` (free text, default ``'user'``), ``area_m2`` (面积; m² >= 0; a polygon without it gets its
    own area in ``metric_crs``). Polygons are kept as polygons (repaired with ``make_valid``); lines
    are refused. ``gdf.attrs`` records the file and how its coordinates were read.

    Sites outside the region ``bbox`` (WGS84 degrees): with ``on_outside='drop'`` they are dropped with
    a logged warning naming them (site lists often reach past the district; the planner reads them
    this way); with ``'error'`` (the default here) they raise :class:`OutsideRegionError`; a file with
    every site outside raises either way.
    """
    spec, part = _files.input_spec(source, crs, layer)
    _lonlat.check_on_outside(on_outside)
    src = _files.read_file(spec, part, CANDIDATE_SCHEMA)
    gdf, cols, rows = src.frame, src.columns, src.rows
    ids = _tables.optional_strings(gdf, cols["site_id"])
    names = _tables.optional_strings(gdf, cols["name"])
    rows.labels = _tables.label_values(ids, names, cols["site_id"])

    sites, polygonal = _site_geometries(gdf.geometry.to_numpy().copy(), rows)
    geoms, crs_used = _lonlat.read_as_lonlat(sites, spec.crs, gdf.crs, rows)
    still = polygonal & ~shapely.is_valid(geoms)
    if still.any():
        _lonlat.repair_polygons(geoms, still)

    area = _site_areas(_tables.non_negative(gdf, cols["area_m2"], rows, "m²"), geoms, polygonal, metric_crs)
    ids, _ = _tables.fill_blank_ids(ids, rows)
    dup, values = _tables.duplicated(ids)
    if dup.any():
        raise rows.fail(DataFileError, "duplicate site ids " + ", ".join(repr(v) for v in values), dup)
    kinds = _tables.optional_strings(gdf, cols["kind"])
    kinds = np.where(pd.isna(kinds), "user", kinds)
    out = candidate_frame(
        [
            {
                "site_id": i,
                "kind": k,
                "kind_zh": KIND_ZH.get(k, ""),
                "name": "" if pd.isna(nm) else nm,
                "area_m2": a,
                "source": "user",
                "osm_tag": "",
            }
            for i, k, nm, a in zip(ids, kinds, names, area)
        ],
        list(geoms),
    )
    out = _lonlat.outside_rows(out, bbox, on_outside, rows, "candidate sites")
    out.attrs.update(source_file=str(spec.path), source_part=rows.part, **crs_used)
    log.info(
        "%s: %d candidate sites read (coordinates read as %s)", rows.source, len(out), crs_used["crs_read_as"]
    )
    return out


def _site_geometries(geoms: np.ndarray, rows: _tables.Rows) -> tuple[np.ndarray, np.ndarray]:
    """``geoms`` checked to be points or (multi)polygons, single-part multipoints unwrapped and invalid
    polygons repaired (logged), in place; and the mask of the polygonal ones."""
    _lonlat.require_geometry(geoms, rows)
    kind_id = shapely.get_type_id(geoms)
    single_multi = (kind_id == 4) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    kind_id = shapely.get_type_id(geoms)
    polygonal = np.isin(kind_id, (3, 6))
    bad = ~(polygonal | (kind_id == 0))
    if bad.any():
        found = _lonlat.type_names(kind_id[bad])
        raise rows.fail(DataFileError, f"candidate sites must be points or polygons, got {found}", bad)
    invalid = polygonal & ~shapely.is_valid(geoms)
    if invalid.any():
        _lonlat.repair_polygons(geoms, invalid)
        log.warning(
            "%s: repaired %d invalid polygons (%s)", rows.source, int(invalid.sum()), rows.where(invalid)
        )
    return geoms, polygonal


def _site_areas(area: np.ndarray, geoms: np.ndarray, polygonal: np.ndarray, metric_crs: str) -> np.ndarray:
    """Areas in m²: the file's where given, else a polygon's own area in ``metric_crs``, else NaN."""
    area = np.array(area, dtype=float)
    if polygonal.any():
        own = gpd.GeoSeries(geoms[polygonal], crs=WGS84).to_crs(metric_crs).area.to_numpy()
        sub = area[polygonal]
        area[polygonal] = np.where(np.isfinite(sub), sub, own)
    return area
