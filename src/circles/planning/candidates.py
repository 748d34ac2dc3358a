"""Candidate micro-renewal sites (金角银边, 设施嵌入): from the region's OpenStreetMap extract
(:func:`osm_candidates`: surface parking, vacant and brownfield land, construction sites, small green
spaces, disused buildings, markets) and from a file the user gives (:func:`read_candidates`: points or
polygons in WGS84, GCJ-02, BD-09 or an EPSG CRS); :func:`candidate_sites` combines them.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .._common import WGS84
from ..errors import DataFileError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

log = logging.getLogger(__name__)


DEFAULT_METRIC_CRS = "EPSG:32648"

#: Columns of a candidate table (plus ``geometry``: the site's polygon where known, else a point).
CANDIDATE_COLUMNS: tuple[str, ...] = ("site_id", "kind", "kind_zh", "name", "area_m2", "source", "osm_tag")

#: Green spaces larger than this (m²) are not offered as sites: a pocket park or a grass corner can take
#: a small facility at its edge (金角银边), a real park is green space to keep. Project default.
SMALL_GREEN_MAX_M2 = 10_000.0

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
    """One kind of OSM candidate site: ``match(tags)`` returns the matching tag text or None."""

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
KIND_ZH = {k.key: k.name_zh for k in CANDIDATE_KINDS} | {"user": "用户候选"}


def _kind_of(tags: Mapping[str, str]) -> tuple[CandidateKind, str] | None:
    for kind in CANDIDATE_KINDS:
        text = kind.match(tags)
        if text:
            return kind, text
    return None


def _candidate_frame(rows: list[dict], geoms: Sequence[BaseGeometry]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    df = df.astype({c: object for c in CANDIDATE_COLUMNS if c != "area_m2"} | {"area_m2": "float64"})
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(list(geoms), crs=WGS84, index=df.index), crs=WGS84)


# --- candidates from OSM ------------------------------------------------------------------------


def osm_candidates(
    osm_path: Path | str,
    bbox: Iterable[float] | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Candidate micro-renewal sites found in an OSM file, EPSG:4326.

    Kinds (:data:`CANDIDATE_KINDS`, first match wins): ``idle_building`` (buildings tagged
    ``disused``/``abandoned``/``vacant=yes``, ``disused:*``/``abandoned:*`` or ``building=ruins``…),
    ``vacant_land`` (``landuse=brownfield|greenfield|vacant``), ``parking`` (surface ``amenity=parking``),
    ``construction`` (``landuse=construction``), ``green_space`` (``landuse=grass|village_green|meadow``,
    ``leisure=park|garden``, at most :data:`SMALL_GREEN_MAX_M2`) and ``market`` (``amenity=marketplace``,
    for 功能置换). Areas (closed ways, multipolygons) keep their polygon (repaired with ``make_valid``)
    and ``area_m2`` (m², in ``metric_crs``); tagged nodes are points with ``area_m2`` NaN (except
    green-space nodes, whose size cannot be checked: left out); open ways are skipped.

    Columns: :data:`CANDIDATE_COLUMNS` — ``site_id`` (``osm:w123``), ``kind``, ``kind_zh``, ``name``
    (``name`` or ``name:zh``, else empty), ``area_m2``, ``source`` (``'osm'``), ``osm_tag`` (the tag that
    matched). With ``bbox`` (WGS84 degrees) only sites whose representative point lies inside are kept.
    """
    from ..io.osm_features import _area_geoms, _check_bbox, _clean, _in_bbox, _read

    box = _check_bbox(bbox)
    areas, nodes, _, _ = _read(Path(osm_path), lambda t: _kind_of(t) is not None, nodes=True)
    polys = [_clean(g) for g in _area_geoms(areas)] if areas else []
    keep_areas = [(f, p) for f, p in zip(areas, polys) if p is not None]
    metric_area = (
        gpd.GeoSeries([p for _, p in keep_areas], crs=WGS84).to_crs(metric_crs).area.to_numpy()
        if keep_areas
        else np.zeros(0)
    )
    rows: list[dict] = []
    geoms: list[BaseGeometry] = []
    reps: list[BaseGeometry] = []
    too_big = 0
    for (f, poly), area in zip(keep_areas, metric_area):
        kind, text = _kind_of(f.tags)  # type: ignore[misc]
        if kind.max_area_m2 is not None and area > kind.max_area_m2:
            too_big += 1
            continue
        rows.append(_osm_row(f.osm_id, f.tags, kind, text, float(area)))
        geoms.append(poly)
        reps.append(shapely.point_on_surface(poly))
    for f in nodes:
        kind, text = _kind_of(f.tags)  # type: ignore[misc]
        if kind.max_area_m2 is not None:  # size unknown: could be a large park
            too_big += 1
            continue
        rows.append(_osm_row(f.osm_id, f.tags, kind, text, np.nan))
        geoms.append(f.geometry)
        reps.append(f.geometry)
    inside = _in_bbox(np.asarray(reps, dtype=object), box)
    rows = [r for r, ok in zip(rows, inside) if ok]
    geoms = [g for g, ok in zip(geoms, inside) if ok]
    gdf = _candidate_frame(rows, geoms)
    if len(gdf):
        order = pd.DataFrame(
            {
                "k": gdf["kind"].map({k.key: i for i, k in enumerate(CANDIDATE_KINDS)}),
                "t": gdf["site_id"].str[4].map({"n": 0, "w": 1, "r": 2}),
                "n": gdf["site_id"].str[5:].astype("int64"),
            }
        )
        gdf = gdf.loc[order.sort_values(["k", "t", "n"], kind="stable").index].reset_index(drop=True)
    counts = gdf["kind"].value_counts().to_dict() if len(gdf) else {}
    log.info(
        "%s: %d candidate sites (%s); %d green spaces above %.0f m² or of unknown size left out",
        osm_path,
        len(gdf),
        ", ".join(f"{k.key} {counts.get(k.key, 0)}" for k in CANDIDATE_KINDS),
        too_big,
        SMALL_GREEN_MAX_M2,
    )
    return gdf


def _osm_row(osm_id: str, tags: Mapping[str, str], kind: CandidateKind, text: str, area: float) -> dict:
    return {
        "site_id": osm_id,
        "kind": kind.key,
        "kind_zh": kind.name_zh,
        "name": tags.get("name") or tags.get("name:zh") or "",
        "area_m2": area,
        "source": "osm",
        "osm_tag": text,
    }


# --- candidates from a user file ----------------------------------------------------------------

_CANDIDATE_ALIASES = {
    "site_id": ("site_id", "id", "candidate_id", "candidate_", "fid_"),
    "name": ("name", "名称"),
    "kind": ("kind", "type"),
    "area_m2": ("area_m2", "area", "面积"),
}


def read_candidates(
    path: str | Path,
    crs: object = "wgs84",
    bbox: tuple[float, float, float, float] | None = None,
    *,
    on_outside: str = "error",
    layer: str | int | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Read a user's candidate sites (points or polygons) into the :data:`CANDIDATE_COLUMNS` table,
    EPSG:4326.

    ``path``: GeoJSON, GeoPackage (first layer unless ``layer``), Shapefile (.shp / .shp.zip) or CSV
    with lon/lat columns (as :func:`circles.io.inputs.read_facilities`); ``crs``: the coordinate system of
    the numbers — ``'wgs84'``, ``'gcj02'`` (高德/腾讯), ``'bd09'`` (百度) or an EPSG code. Optional columns:
    ``site_id`` (or ``id``; blank ones become ``'<file stem>:<row>'``; must be unique), ``name``,
    ``kind`` (free text, default ``'user'``), ``area_m2`` (or ``area``; m² >= 0; a polygon without it
    gets its own area in ``metric_crs``). Polygons are kept as polygons (repaired with ``make_valid``);
    lines are refused. Sites outside ``bbox`` raise :class:`OutsideRegionError` or, with
    ``on_outside='drop'``, are dropped (logged).
    """
    from ..io.coords import normalise_crs_name
    from ..io.inputs import (
        _check_coordinates,
        _find,
        _geometry_problems,
        _read_any,
        _resolve_crs,
        _Rows,
        _strings,
        _to_lonlat,
        area_column,
        outside_rows,
    )

    path = Path(path)
    if on_outside not in ("error", "drop"):
        raise InputError(f"on_outside must be 'error' or 'drop' (got {on_outside!r})")
    declared = normalise_crs_name(crs)
    gdf = _read_any(path, layer, "candidate sites", tables=True)
    cols = {k: _find(gdf.columns, names) for k, names in _CANDIDATE_ALIASES.items()}
    rows = _Rows(path)
    n = len(gdf)
    ids = _strings(gdf[cols["site_id"]]) if cols["site_id"] is not None else np.full(n, None, object)
    names = _strings(gdf[cols["name"]]) if cols["name"] is not None else np.full(n, None, object)
    rows.labels = np.where(pd.notna(ids), ids, names)

    geoms = gdf.geometry.to_numpy().copy()
    _geometry_problems(geoms, rows)
    kind_id = shapely.get_type_id(geoms)
    single_multi = (kind_id == 4) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    kind_id = shapely.get_type_id(geoms)
    polygonal = np.isin(kind_id, (3, 6))
    bad = ~(polygonal | (kind_id == 0))
    if bad.any():
        found = ", ".join(shapely.GeometryType(t).name.lower() for t in sorted(set(kind_id[bad].tolist())))
        raise rows.fail(DataFileError, f"candidate sites must be points or polygons, got {found}", bad)
    invalid = polygonal & ~shapely.is_valid(geoms)
    if invalid.any():
        from ..io.inputs import _polygonal

        geoms[invalid] = [_polygonal(g) for g in shapely.make_valid(geoms[invalid])]
        log.warning("%s: repaired %d invalid polygons (%s)", path, int(invalid.sum()), rows.where(invalid))
    key = _resolve_crs(declared, gdf.crs, path)
    b = shapely.bounds(geoms)
    _check_coordinates(b[:, :2], b[:, 2:], key, rows)
    geoms = _to_lonlat(geoms, key, rows)
    still = polygonal & ~shapely.is_valid(geoms)
    if still.any():
        from ..io.inputs import _polygonal

        geoms[still] = [_polygonal(g) for g in shapely.make_valid(geoms[still])]

    area = area_column(gdf, cols["area_m2"], rows, n)
    area = np.array(area, dtype=float)
    if polygonal.any():
        own = gpd.GeoSeries(geoms[polygonal], crs=WGS84).to_crs(metric_crs).area.to_numpy()
        sub = area[polygonal]
        area[polygonal] = np.where(np.isfinite(sub), sub, own)
    blank = pd.isna(ids)
    if blank.any():
        ids = ids.copy()
        ids[blank] = [f"{path.name.split('.')[0]}:{i + 1}" for i in np.flatnonzero(blank)]
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raise rows.fail(
            DataFileError, "duplicate site ids " + ", ".join(repr(v) for v in dict.fromkeys(ids[dup])), dup
        )
    kinds = _strings(gdf[cols["kind"]]) if cols["kind"] is not None else np.full(n, None, object)
    kinds = np.where(pd.isna(kinds), "user", kinds)
    out = _candidate_frame(
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
    out = outside_rows(out, bbox, on_outside, rows, path, "candidate sites")
    out.attrs.update(source_file=str(path), crs_read_as=key)
    log.info("%s: %d candidate sites read (coordinates read as %s)", path, len(out), key)
    return out


def candidate_sites(
    result: PlanResult,
    path: str | Path | None = None,
    crs: object = "wgs84",
    *,
    osm: bool = True,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """The region's OSM candidates (when ``osm`` and the extract exists) plus the user's file ``path``
    (read with :func:`read_candidates`, sites outside the region dropped, and checked for GCJ-02/BD-09
    numbers declared as WGS84 against the street network). Ids must be unique across both."""
    from ..io.crs_check import check_declared_crs

    data = result.data
    region = data.region
    frames = []
    if osm and region.osm_path.exists():
        frames.append(osm_candidates(region.osm_path, bbox=region.bbox, metric_crs=region.metric_crs))
    if path is not None:
        user = read_candidates(
            path, crs=crs, bbox=region.bbox, on_outside="drop", layer=layer, metric_crs=region.metric_crs
        )
        g = data.graphs.get("walk") or next(iter(data.graphs.values()))

        def street_distance(lon, lat):
            s = g.snap(data.net.project(lon, lat), max_snap_m=5000, strict=False)
            return np.where(s.seg >= 0, s.offstreet_m, 5000.0)

        check_declared_crs(user, crs, street_distance, what="streets")
        frames.append(user)
    if not frames:
        return _candidate_frame([], [])
    out = pd.concat([f[list(CANDIDATE_COLUMNS) + ["geometry"]] for f in frames], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)
    dup = out["site_id"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            "duplicate candidate site ids across OSM and the candidates file: "
            + ", ".join(dict.fromkeys(out.loc[dup, "site_id"].astype(str)[:10]))
        )
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
