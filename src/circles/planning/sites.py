"""Candidate micro-renewal sites (金角银边, 设施嵌入) and the choice of up to ``k`` new sites for a category.

Candidates come from the region's OpenStreetMap extract (:func:`osm_candidates`: surface parking, vacant
and brownfield land, construction sites, small green spaces, disused buildings, markets) and from a file
the user gives (:func:`read_candidates`: points or polygons in WGS84, GCJ-02, BD-09 or an EPSG CRS).

:func:`choose_sites` solves a **maximal covering location problem** (MCLP): with the existing facilities
of the category fixed, choose at most ``k`` candidates that together newly cover the largest weight of
resident points within the category's threshold (per community type: profile and minutes, as in the
coverage table). Residents already covered by an existing facility count as covered and earn nothing.
Which candidate reaches which resident point is exact network routing: one reverse search per candidate
with the threshold as cutoff, evaluated at the resident points (:meth:`ProfileGraph.search`).

The integer program (HiGHS, :func:`solve_mclp`)::

    maximise   sum_g w_g y_g
    subject to y_g <= sum_{j covers g} x_j      for every point group g
               sum_j x_j <= k
               x_j in {0, 1},  0 <= y_g <= 1

where a *group* is the set of uncovered resident points that the same candidates reach (identical
columns of the coverage matrix are merged and their weights added; points no candidate reaches are
left out). ``y_g`` need not be declared integer: for integer ``x`` an optimal ``y_g`` is
``min(1, sum x_j)``, which is 0 or 1. The MILP is solved to optimality (relative gap 0) unless the
time limit is hit; then the better of HiGHS's incumbent and the greedy heuristic is returned with its
gap to the best bound (HiGHS's dual bound, or the LP relaxation). The greedy solution is always computed
too, for comparison.

Weights are what the plan's resident points carry: people (``weight_kind`` population/households/
raster) or **m² of residential area** (``weight_kind == 'area'``, when no population data was given);
area is never reported as residents.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from .. import OSM_ATTRIBUTION
from ..errors import DataFileError, InputError
from ..planning.coverage import DEFAULT_TARGET_SHARE

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "MclpSolution",
    "SITE_COLUMNS",
    "SiteChoice",
    "SMALL_GREEN_MAX_M2",
    "candidate_sites",
    "choose_sites",
    "coverage_matrix",
    "greedy_mclp",
    "osm_candidates",
    "read_candidates",
    "site_points",
    "solve_mclp",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
DEFAULT_METRIC_CRS = "EPSG:32648"

#: Columns of a candidate table (plus ``geometry``: the site's polygon where known, else a point).
CANDIDATE_COLUMNS: tuple[str, ...] = ("site_id", "kind", "kind_zh", "name", "area_m2", "source", "osm_tag")

#: Green spaces larger than this (m²) are not offered as sites: a pocket park or a grass corner can take
#: a small facility at its edge (金角银边), a real park is green space to keep. Project default.
SMALL_GREEN_MAX_M2 = 10_000.0

#: Default time limit of the integer program, seconds.
DEFAULT_TIME_LIMIT_S = 60.0

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
_KIND_ZH = {k.key: k.name_zh for k in CANDIDATE_KINDS} | {"user": "用户候选"}


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
                "kind_zh": _KIND_ZH.get(k, ""),
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
    from ..io.inputs import check_declared_crs

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


def _normalise_candidates(cands: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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


@dataclass
class MclpSolution:
    """Solution of a maximal covering problem over candidate columns.

    ``chosen``: candidate indices, in greedy order of their marginal gain within the chosen set (sites
    adding nothing are dropped); ``objective``: weight covered; ``bound``: a proven upper bound on the
    optimum (equal to ``objective`` when solved to optimality); ``gap`` = (bound - objective) / bound
    (0 when optimal); ``method``: what produced ``chosen``; ``lp_bound``: the LP relaxation;
    ``greedy_objective``: what the greedy heuristic covers (for comparison); ``n_groups``: rows of the
    aggregated model; ``n_variables``/``n_constraints``: size of the integer program.
    """

    chosen: list[int]
    objective: float
    bound: float
    gap: float
    method: str
    status: str
    solve_time_s: float
    lp_bound: float | None
    greedy_objective: float
    greedy_chosen: list[int]
    n_groups: int
    n_variables: int
    n_constraints: int
    optimal: bool


def _groups(A: sparse.csr_matrix, weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Merge rows of ``A`` (points x candidates, boolean) that have the same set of covering candidates;
    rows covered by none are dropped. Returns (candidate index arrays, summed weights)."""
    A = sparse.csr_matrix(A, dtype=bool)
    A.sort_indices()
    acc: dict[bytes, int] = {}
    sets: list[np.ndarray] = []
    w: list[float] = []
    for i in range(A.shape[0]):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        if len(cols) == 0 or not weights[i] > 0:
            continue
        key = cols.astype(np.int64).tobytes()
        g = acc.get(key)
        if g is None:
            acc[key] = len(sets)
            sets.append(cols.astype(np.int64))
            w.append(float(weights[i]))
        else:
            w[g] += float(weights[i])
    return sets, np.asarray(w, dtype=float)


def _greedy(
    sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, allowed: Sequence[int] | None = None
) -> tuple[list[int], float]:
    """Greedy: repeatedly add the candidate with the largest newly covered weight (ties: lowest index)
    until ``k`` are chosen or nothing more is gained."""
    members: list[list[int]] = [[] for _ in range(n_cand)]
    for g, s in enumerate(sets):
        for j in s:
            members[int(j)].append(g)
    gain = np.array([w[m].sum() if m else 0.0 for m in members])
    if allowed is not None:
        mask = np.zeros(n_cand, bool)
        mask[list(allowed)] = True
        gain = np.where(mask, gain, -np.inf)
    covered = np.zeros(len(sets), bool)
    chosen: list[int] = []
    total = 0.0
    tol = 1e-12 * max(float(w.sum()), 1.0)
    while len(chosen) < k:
        j = int(np.argmax(gain))
        if not gain[j] > tol:
            break
        chosen.append(j)
        total += float(gain[j])
        gain[j] = -np.inf
        newly = [g for g in members[j] if not covered[g]]
        covered[newly] = True
        for g in newly:
            for jj in sets[g]:
                if np.isfinite(gain[jj]):
                    gain[jj] -= w[g]
    return chosen, total


def greedy_mclp(A: sparse.spmatrix, weights: np.ndarray, k: int) -> tuple[list[int], float]:
    """Greedy maximal covering on a points x candidates boolean matrix: (chosen indices, covered weight)."""
    sets, w = _groups(sparse.csr_matrix(A), np.asarray(weights, float))
    return _greedy(sets, w, A.shape[1], k)


_HIGHS_LOCK = threading.Lock()
_HIGHS_BANNER_DONE = False


def _new_highs():
    """A silent :class:`highspy.Highs`. HiGHS prints its banner to the C-level stdout on the first
    construction in a process; that one time stdout is pointed at /dev/null, so a CLI's output (e.g.
    JSON on stdout) stays clean."""
    import highspy

    global _HIGHS_BANNER_DONE
    with _HIGHS_LOCK:
        if _HIGHS_BANNER_DONE:
            h = highspy.Highs()
        else:
            try:
                fd = sys.stdout.fileno() if hasattr(sys.stdout, "fileno") else 1
            except (OSError, ValueError):
                fd = 1
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            saved = os.dup(fd)
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), fd)
                    try:
                        h = highspy.Highs()
                    finally:
                        os.dup2(saved, fd)
            finally:
                os.close(saved)
            _HIGHS_BANNER_DONE = True
    h.setOptionValue("output_flag", False)
    return h


def _highs_model(sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, integer: bool):
    import highspy

    ng = len(sets)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cand + ng
    lp.num_row_ = ng + 1
    lp.col_cost_ = np.concatenate([np.zeros(n_cand), w])
    lp.col_lower_ = np.zeros(n_cand + ng)
    lp.col_upper_ = np.ones(n_cand + ng)
    lp.row_lower_ = np.full(ng + 1, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.zeros(ng), [float(k)]])
    # row-wise: row g = y_g - sum_{j in S_g} x_j <= 0; last row sum_j x_j <= k
    starts, index, value = [0], [], []
    for g, s in enumerate(sets):
        index.extend([n_cand + g, *s.tolist()])
        value.extend([1.0] + [-1.0] * len(s))
        starts.append(len(index))
    index.extend(range(n_cand))
    value.extend([1.0] * n_cand)
    starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n_cand + ng
    lp.a_matrix_.num_row_ = ng + 1
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cand + [highspy.HighsVarType.kContinuous] * ng
    return lp, len(index)


def _lp_bound(sets, w, n_cand, k) -> float | None:
    import highspy

    h = _new_highs()
    lp, _ = _highs_model(sets, w, n_cand, k, integer=False)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


def _run_milp(sets, w, n_cand, k, time_limit_s: float) -> dict:
    """Solve the integer program; returns status, objective, dual bound, x values and time."""
    import highspy

    h = _new_highs()
    lp, nnz = _highs_model(sets, w, n_cand, k, integer=True)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9 * max(float(w.sum()), 1.0))
    h.setOptionValue("random_seed", 0)
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the covering model")
    t = time.perf_counter()
    run_status = h.run()
    elapsed = time.perf_counter() - t
    if run_status == highspy.HighsStatus.kError:
        log.warning("HiGHS run failed (%s)", h.modelStatusToString(h.getModelStatus()))
    st = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        x = np.asarray(h.getSolution().col_value[:n_cand], dtype=float)
    return {
        "status": h.modelStatusToString(st),
        "optimal": st == highspy.HighsModelStatus.kOptimal,
        "time_limit": st == highspy.HighsModelStatus.kTimeLimit,
        "x": x,
        "objective": float(info.objective_function_value) if x is not None else float("nan"),
        "dual_bound": float(info.mip_dual_bound),
        "time_s": elapsed,
        "nnz": nnz,
    }


def _covered_weight(sets, w, chosen) -> float:
    """Weight of the groups that any of ``chosen`` covers (``sets``: list of index arrays or the
    groups x candidates matrix)."""
    chosen = [int(j) for j in chosen]
    if not chosen or len(w) == 0:
        return 0.0
    G = sets if sparse.issparse(sets) else _group_matrix(sets, max(chosen) + 1)
    hit = np.asarray(G[:, chosen].sum(axis=1)).ravel() > 0
    return float(w[hit].sum())


def _group_matrix(sets: list[np.ndarray], n_cand: int) -> sparse.csc_matrix:
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets]) if sets else np.zeros(0, np.int64)
    cols = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    keep = cols < n_cand
    return sparse.csc_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(sets), n_cand))


def _order(sets, w, n_cand, chosen) -> list[int]:
    """The chosen candidates without redundant ones (a site whose removal loses nothing is dropped,
    smallest standalone cover first), in greedy order of marginal gain among themselves."""
    chosen = [int(j) for j in chosen]
    if not chosen:
        return []
    G = _group_matrix(sets, n_cand)
    full = _covered_weight(G, w, chosen)
    tol = 1e-9 * max(full, 1.0)
    alone = {j: _covered_weight(G, w, [j]) for j in chosen}
    keep = list(chosen)
    for j in sorted(chosen, key=lambda j: (alone[j], j)):
        rest = [i for i in keep if i != j]
        if _covered_weight(G, w, rest) >= full - tol:
            keep = rest
    order, _ = _greedy(sets, w, n_cand, len(keep), allowed=keep)
    return order


def solve_mclp(
    A: sparse.spmatrix | np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> MclpSolution:
    """Choose at most ``k`` columns of the boolean points x candidates matrix ``A`` covering the largest
    total ``weights`` of rows (a row is covered when any chosen column covers it).

    ``method``: ``'auto'`` (MILP with HiGHS to optimality; on hitting ``time_limit_s`` the better of
    HiGHS's incumbent and greedy, with its gap to the best bound), ``'milp'`` (the same, but never
    falling back) or ``'greedy'`` (greedy only, gap to the LP relaxation bound).
    """
    if method not in ("auto", "milp", "greedy"):
        raise InputError(f"method must be auto, milp or greedy (got {method!r})")
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    A = sparse.csr_matrix(A, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    if A.shape[0] != len(weights):
        raise InputError(f"A has {A.shape[0]} rows but {len(weights)} weights")
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise InputError("weights must be finite and >= 0")
    n_all = A.shape[1]
    t0 = time.perf_counter()
    sets_all, w = _groups(A, weights)
    if not sets_all:
        return MclpSolution(
            [],
            0.0,
            0.0,
            0.0,
            "trivial (no point can be newly covered)",
            "Optimal",
            time.perf_counter() - t0,
            0.0,
            0.0,
            [],
            0,
            0,
            1,
            True,
        )
    # only candidates that reach someone enter the model (local indices 0..n_cand-1)
    cols = np.unique(np.concatenate(sets_all))
    local = np.full(n_all, -1, dtype=np.int64)
    local[cols] = np.arange(len(cols))
    sets = [local[s] for s in sets_all]
    n_cand = len(cols)
    n_var, n_con = n_cand + len(sets), len(sets) + 1

    def back(chosen: Iterable[int]) -> list[int]:
        return [int(cols[j]) for j in chosen]

    greedy_local, greedy_obj = _greedy(sets, w, n_cand, k)
    greedy_chosen = back(greedy_local)
    if k >= n_cand:  # every candidate that reaches anyone can be taken: optimal without a solver
        chosen = back(_order(sets, w, n_cand, range(n_cand)))
        obj = float(w.sum())
        return MclpSolution(
            chosen,
            obj,
            obj,
            0.0,
            f"exact: k >= the {n_cand} candidates that reach anyone (all taken, redundant ones dropped)",
            "Optimal",
            time.perf_counter() - t0,
            obj,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            True,
        )
    lp_bound = _lp_bound(sets, w, n_cand, k)
    if method == "greedy":
        bound = lp_bound if lp_bound is not None else float(w.sum())
        bound = max(bound, greedy_obj)
        return MclpSolution(
            greedy_chosen,
            greedy_obj,
            bound,
            _gap(greedy_obj, bound),
            "greedy",
            "heuristic",
            time.perf_counter() - t0,
            lp_bound,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            bool(bound - greedy_obj <= 1e-9 * max(bound, 1.0)),
        )
    res = _run_milp(sets, w, n_cand, k, time_limit_s)
    if res["optimal"] and res["x"] is not None:
        chosen = _order(sets, w, n_cand, [int(j) for j in np.flatnonzero(res["x"] > 0.5)])
        obj = _covered_weight(sets, w, chosen)
        if obj < res["objective"] - 1e-6 * max(abs(res["objective"]), 1.0):
            log.warning("MILP objective %.6g but its sites cover %.6g", res["objective"], obj)
        bound = max(obj, res["dual_bound"]) if math.isfinite(res["dual_bound"]) else obj
        return MclpSolution(
            back(chosen),
            obj,
            bound,
            _gap(obj, bound),
            "MILP (HiGHS)",
            res["status"],
            time.perf_counter() - t0,
            lp_bound,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            True,
        )
    bounds = [b for b in (res["dual_bound"], lp_bound) if b is not None and math.isfinite(b)]
    bound = min(bounds) if bounds else float(w.sum())
    inc = [int(j) for j in np.flatnonzero(res["x"] > 0.5)] if res["x"] is not None else []
    inc_obj = _covered_weight(sets, w, inc) if inc else 0.0
    if method == "milp":
        if res["x"] is None:
            raise InputError(f"MILP found no solution within {time_limit_s:g} s ({res['status']})")
        chosen, obj, how = (
            back(_order(sets, w, n_cand, inc)),
            inc_obj,
            f"MILP (HiGHS) incumbent, stopped: {res['status']}",
        )
    elif inc_obj > greedy_obj:
        chosen, obj = back(_order(sets, w, n_cand, inc)), inc_obj
        how = f"MILP (HiGHS) incumbent after {res['status'].lower()} ({time_limit_s:g} s)"
    else:
        chosen, obj = list(greedy_chosen), greedy_obj
        how = f"greedy (MILP stopped: {res['status'].lower()} after {time_limit_s:g} s)"
    bound = max(bound, obj)
    return MclpSolution(
        chosen,
        obj,
        bound,
        _gap(obj, bound),
        how,
        res["status"],
        time.perf_counter() - t0,
        lp_bound,
        greedy_obj,
        greedy_chosen,
        len(sets),
        n_var,
        n_con,
        False,
    )


def _gap(obj: float, bound: float) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - obj) / bound)


# --- the coverage matrix on the network ---------------------------------------------------------


def coverage_matrix(
    result: PlanResult,
    category: str,
    site_xy: np.ndarray,
    *,
    points: np.ndarray | None = None,
    max_snap_m: float | None = None,
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Which resident points each site reaches within the category's threshold.

    ``site_xy``: sites in the network CRS (metres, shape (m, 2)); ``points``: resident point indices
    to test (default all). Each site gets one reverse search per travel profile with the largest
    threshold of the point types as cutoff, evaluated exactly at the points (threshold by community
    type). Returns (matrix len(points) x m, boolean; the sites' distance to their street in m, inf when
    farther than ``max_snap_m`` from every street (such a site reaches nobody); time (s) from each
    point to its nearest reaching site among those tested, inf when none)."""
    cat = result.data.catalog.get(category)
    engine = result.engine
    pts = engine.points
    idx_all = np.arange(len(pts)) if points is None else np.asarray(points, dtype=np.int64)
    site_xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    m = len(site_xy)
    max_snap_m = engine.max_snap_m if max_snap_m is None else max_snap_m
    thr_s = np.array([cat.threshold_s(t) for t in pts.ctype]) if len(pts) else np.zeros(0)
    local = np.full(len(pts), -1, dtype=np.int64)
    local[idx_all] = np.arange(len(idx_all))
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    best_t = np.full(len(idx_all), np.inf)
    snap_m = np.full(m, np.inf)
    snaps = dict(engine._point_snaps)
    if not snaps and m:  # no resident point at all: still say which sites reach a street
        prof = "walk" if "walk" in result.data.graphs else next(iter(result.data.graphs))
        snaps[prof] = (np.zeros(0, np.int64), result.data.graphs[prof].snap(np.zeros((0, 2)), strict=False))
    for prof, (pidx, psnap) in snaps.items():
        if m == 0:
            break
        g = result.data.graphs[prof]
        ssnap = g.snap(site_xy, max_snap_m=max_snap_m, strict=False)
        ok = ssnap.seg >= 0
        snap_m = np.minimum(snap_m, np.where(ok, ssnap.offstreet_m, np.inf))
        want = (local[pidx] >= 0) & (psnap.seg >= 0)
        if not want.any():
            continue
        sub_idx = pidx[want]
        sub_snap = psnap.subset(want)
        cutoff = float(thr_s[sub_idx].max())
        vmax = max(g.max_speed_m_s, g.offstreet_speed_m_s)
        tree = cKDTree(sub_snap.point_xy)
        for j in np.flatnonzero(ok):
            near = np.asarray(tree.query_ball_point(site_xy[j], cutoff * vmax + 1.0), dtype=np.int64)
            if len(near) == 0:
                continue
            nt = g.search(ssnap.subset(np.array([j])), cutoff_s=cutoff, reverse=True)
            t, _ = nt.at(sub_snap.subset(near))
            hit = t <= thr_s[sub_idx[near]]
            if hit.any():
                li = local[sub_idx[near[hit]]]
                rows_l.append(li)
                cols_l.append(np.full(len(li), j, dtype=np.int64))
                best_t[li] = np.minimum(best_t[li], t[hit])
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
    cols = np.concatenate(cols_l) if cols_l else np.zeros(0, np.int64)
    A = sparse.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(len(idx_all), m))
    return A, snap_m, best_t


# --- choosing sites -----------------------------------------------------------------------------


@dataclass
class SiteChoice:
    """Up to ``k`` new sites for ``category`` and what they newly cover.

    ``sites``: the chosen sites (EPSG:4326; geometry is the site's polygon where known, else its
    point), ranked (``rank`` 1 = largest marginal gain), with columns ``rank``, ``site_id``, ``kind``,
    ``kind_zh``, ``name``, ``source`` (osm/user), ``area_m2`` (site size, m², NaN when unknown),
    ``new_weight`` (weight of uncovered resident points the site reaches on its own), ``added_weight``
    (what it adds after the higher-ranked sites; these add up to ``objective``), ``new_residents`` /
    ``added_residents`` (people; NaN when ``weight_kind == 'area'``), ``new_area_m2`` / ``added_area_m2``
    (m² of residential area, share-based), ``n_communities`` (communities it newly reaches),
    ``closes_gaps`` / ``closes_ids`` (communities whose gap is closed — covered share reaching the
    target — once this site is added to the higher-ranked ones; ``"; "``-joined), ``n_closed``,
    ``snap_m`` (distance to the street), ``lon``/``lat`` (the routing point: the point itself or a
    representative point inside the polygon) and ``baseline`` (sources of the existing facilities kept
    fixed, e.g. ``sample:6``: SAMPLE data when it says so).

    ``communities``: one row per chosen site and community it newly reaches (share before, share
    after the sites up to this rank, whether the gap closes). ``candidates``: every candidate tested,
    with ``new_weight`` on its own, ``usable`` and ``reason`` when it could not be used.
    """

    category: str
    category_zh: str
    k: int
    weight_kind: str
    weight_label: str
    solution: MclpSolution
    sites: gpd.GeoDataFrame
    communities: pd.DataFrame
    candidates: gpd.GeoDataFrame
    total_weight: float
    covered_before: float
    uncovered_before: float
    unreachable_weight: float
    gaps_before: int
    gaps_closed: int
    baseline: dict[str, int]
    demand_points: int = 0
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.solution.method

    @property
    def objective(self) -> float:
        """Weight newly covered by the chosen sites (people, or m² when ``weight_kind == 'area'``)."""
        return self.solution.objective

    @property
    def people(self) -> bool:
        return self.weight_kind != "area"

    @property
    def unit(self) -> str:
        """What the weights count, for messages: never 'residents' for area weights."""
        return {
            "area": "m² of residential area",
            "mixed": "weight (residents where known, m² of area elsewhere)",
        }.get(self.weight_kind, "residents")

    def describe(self) -> list[str]:
        """Plain-text lines for a terminal: the method, objective and bound, then one line per site."""
        s = self.solution
        before = _ratio(self.covered_before, self.total_weight)
        after = _ratio(self.covered_before + s.objective, self.total_weight)
        share = (
            f", covered share {before:.1%} -> {after:.1%}" if before is not None and after is not None else ""
        )
        lines = [
            f"{self.category} {self.category_zh}: {len(self.sites)} site(s) (k = {self.k}) by {s.method}",
            f"newly covered: {s.objective:,.0f} {self.unit} (bound {s.bound:,.0f}, gap {s.gap:.2%}; greedy "
            f"{s.greedy_objective:,.0f}){share}; gaps closed {self.gaps_closed} of {self.gaps_before}",
        ]
        for r in self.sites.itertuples():
            size = f"{r.area_m2:,.0f} m²" if np.isfinite(r.area_m2) else "size unknown"
            label = " ".join(x for x in (r.kind_zh or r.kind, r.name) if x)
            closes = f": {r.closes_gaps}" if r.closes_gaps else ""
            lines.append(
                f"#{r.rank} {r.site_id} {label} ({size}, source {r.source}): +{r.added_weight:,.0f} "
                f"{self.unit}, closes {r.n_closed} gap(s){closes}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (API ``GET /sites``): model, method, objective and bound, and the sites."""
        s = self.solution
        unit = (
            "m² of residential area (AREA-weighted: no population data)"
            if self.weight_kind == "area"
            else self.unit
        )
        sites = pd.DataFrame(self.sites.drop(columns="geometry"))
        return _jsonable(
            {
                "category": self.category,
                "category_zh": self.category_zh,
                "k": self.k,
                "weight_kind": self.weight_kind,
                "weighting": self.weight_label,
                "objective_unit": unit,
                "method": s.method,
                "status": s.status,
                "optimal": s.optimal,
                "objective": s.objective,
                "bound": s.bound,
                "gap": s.gap,
                "lp_bound": s.lp_bound,
                "greedy_objective": s.greedy_objective,
                "solve_time_s": round(s.solve_time_s, 4),
                "model": {
                    "candidates": int(len(self.candidates)),
                    "candidates_usable": int(self.candidates["usable"].sum()) if len(self.candidates) else 0,
                    "candidates_reaching": int((self.candidates["new_weight"] > 0).sum())
                    if len(self.candidates)
                    else 0,
                    "uncovered_points": self.demand_points,
                    "point_groups": s.n_groups,
                    "variables": s.n_variables,
                    "constraints": s.n_constraints,
                },
                "baseline": {
                    "facilities": self.baseline,
                    "total_weight": self.total_weight,
                    "covered_weight": self.covered_before,
                    "uncovered_weight": self.uncovered_before,
                    "unreachable_by_any_candidate": self.unreachable_weight,
                    "covered_share": _ratio(self.covered_before, self.total_weight),
                },
                "after": {
                    "covered_weight": self.covered_before + s.objective,
                    "covered_share": _ratio(self.covered_before + s.objective, self.total_weight),
                },
                "gaps": {"before": self.gaps_before, "closed": self.gaps_closed},
                "sites": sites.to_dict(orient="records"),
                "notes": self.notes,
                "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
                "attribution": OSM_ATTRIBUTION,
            }
        )


def _ratio(a: float, b: float) -> float | None:
    return round(float(a / b), 4) if b > 0 else None


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if o is pd.NA or o is pd.NaT:
        return None
    return o


SITE_COLUMNS: tuple[str, ...] = (
    "rank",
    "site_id",
    "kind",
    "kind_zh",
    "name",
    "source",
    "area_m2",
    "new_weight",
    "added_weight",
    "new_residents",
    "added_residents",
    "new_area_m2",
    "added_area_m2",
    "n_communities",
    "n_closed",
    "closes_gaps",
    "closes_ids",
    "category",
    "threshold_min",
    "weight_kind",
    "snap_m",
    "lon",
    "lat",
    "baseline",
    "osm_tag",
)


def choose_sites(
    result: PlanResult,
    category: str,
    k: int,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    respect_min_area: bool = True,
) -> SiteChoice:
    """Choose up to ``k`` candidate sites for ``category`` maximising the newly covered weight (MCLP).

    ``result``: a :class:`~circles.pipeline.PlanResult` (its existing facilities stay fixed);
    ``candidates``: a candidate table (:data:`CANDIDATE_COLUMNS` + geometry, any CRS; default the
    region's OSM candidates, :func:`candidate_sites`). Only resident points of communities the category
    applies to, not covered now and on the network count. With ``respect_min_area`` a candidate whose
    known size is below the category's ``min_area_m2`` is left out. See :func:`solve_mclp` for
    ``method`` and ``time_limit_s`` and :class:`SiteChoice` for what is returned.
    """
    from ..pipeline import WEIGHT_LABELS

    t0 = time.perf_counter()
    data = result.data
    cat = data.catalog.get(category)
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    if candidates is None:
        candidates = candidate_sites(result)
    cands = _normalise_candidates(candidates)
    notes: list[str] = []

    # routing points (metric) and sizes
    metric = cands.to_crs(data.net.crs)
    rep = np.where(
        shapely.get_type_id(metric.geometry.to_numpy()) == 0,
        metric.geometry.to_numpy(),
        shapely.point_on_surface(metric.geometry.to_numpy()),
    )
    site_xy = shapely.get_coordinates(rep).reshape(-1, 2) if len(rep) else np.zeros((0, 2))
    lonlat = (
        np.column_stack(data.net.to_wgs84().transform(site_xy[:, 0], site_xy[:, 1]))
        if len(rep)
        else np.zeros((0, 2))
    )
    polygonal = np.isin(shapely.get_type_id(metric.geometry.to_numpy()), (3, 6))
    own_area = np.where(polygonal, shapely.area(metric.geometry.to_numpy()), np.nan)
    area = cands["area_m2"].to_numpy(dtype=float)
    area = np.where(np.isfinite(area), area, own_area)
    cands["area_m2"] = area

    usable = np.ones(len(cands), bool)
    reason = np.full(len(cands), "", dtype=object)
    if respect_min_area and cat.min_area_m2:
        small = np.isfinite(area) & (area < cat.min_area_m2)
        usable &= ~small
        reason[small] = f"smaller than {cat.min_area_m2:g} m² ({cat.key} min_area_m2)"
        if small.any():
            notes.append(
                f"{int(small.sum())} candidates smaller than the category's {cat.min_area_m2:g} m² left out"
            )

    # baseline: existing facilities fixed
    pts = result.engine.points
    times = (getattr(result, "times", None) or {}).get(category)  # the plan's own, when it kept them
    if times is None or len(times.time_s) != len(pts):
        from ..pipeline import facility_points

        times = result.engine.category_times(category, facility_points(result.data))
    ctype = pts.ctype.astype(str)
    thr_s = np.array([cat.threshold_s(t) for t in ctype]) if len(pts) else np.zeros(0)
    applies = np.array([cat.applies(t) for t in ctype], dtype=bool) if len(pts) else np.zeros(0, bool)
    w = pts.weight.astype(float)
    covered0 = times.time_s <= thr_s
    unsnapped = np.zeros(len(pts), bool)
    unsnapped[result.engine.unsnapped_points] = True
    demand = applies & ~covered0 & ~unsnapped & (w > 0)
    demand_idx = np.flatnonzero(demand)
    t1 = time.perf_counter()

    # coverage matrix of the usable candidates over the uncovered points
    use_idx = np.flatnonzero(usable)
    A_use, snap_m_use, _ = coverage_matrix(result, category, site_xy[use_idx], points=demand_idx)
    snap_m = np.full(len(cands), np.inf)
    snap_m[use_idx] = snap_m_use
    far = np.isin(np.arange(len(cands)), use_idx) & ~np.isfinite(snap_m)
    usable &= ~far
    reason[far] = f"farther than {result.engine.max_snap_m:g} m from any street"
    A_use = sparse.csr_matrix(A_use)
    A = sparse.csr_matrix(
        (A_use.data, use_idx[A_use.indices], A_use.indptr), shape=(len(demand_idx), len(cands))
    )
    t2 = time.perf_counter()

    wd = w[demand_idx]
    reached = np.asarray(A.sum(axis=1)).ravel() > 0 if A.shape[1] else np.zeros(len(demand_idx), bool)
    sol = (
        solve_mclp(A, wd, int(k), method=method, time_limit_s=time_limit_s)
        if len(demand_idx) and A.shape[1]
        else MclpSolution(
            [],
            0.0,
            0.0,
            0.0,
            "trivial (no uncovered resident point)"
            if not len(demand_idx)
            else "trivial (no usable candidate)",
            "Optimal",
            0.0,
            0.0,
            0.0,
            [],
            0,
            0,
            1,
            True,
        )
    )
    t3 = time.perf_counter()

    # per-community accounting
    comm = data.communities
    n_comm = len(comm)
    pc = pts.community
    tot_c = np.bincount(pc, weights=w, minlength=n_comm)
    cov_c0 = np.bincount(pc, weights=np.where(covered0, w, 0.0), minlength=n_comm)
    app_c = np.array([cat.applies(t) for t in comm["type"].astype(str)], dtype=bool)
    target = _target_share(result, category, cat)
    with np.errstate(invalid="ignore", divide="ignore"):
        share0 = np.where(tot_c > 0, cov_c0 / tot_c, np.nan)
    in_gap = app_c & (tot_c > 0) & (share0 < target - 1e-9)
    people = data.weight_kind != "area"
    residents = comm["residents"].to_numpy(dtype=float) if "residents" in comm else np.full(n_comm, np.nan)
    area_c = comm["area_m2"].to_numpy(dtype=float)

    def per_comm(mask_rows: np.ndarray) -> np.ndarray:
        return np.bincount(pc[demand_idx[mask_rows]], weights=wd[mask_rows], minlength=n_comm)

    def scale(wc: np.ndarray) -> tuple[float, float]:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(tot_c > 0, wc / tot_c, 0.0)
        res = float(np.nansum(share * residents)) if people and np.isfinite(residents).any() else np.nan
        return res, float(np.nansum(share * area_c))

    names = comm["name"].astype(str).to_numpy()
    ids = comm["community_id"].astype(str).to_numpy()
    covered_rows = np.zeros(len(demand_idx), bool)
    cov_now = cov_c0.copy()
    closed_total = 0
    site_rows, comm_rows = [], []
    baseline = _baseline(data.facilities, category)
    base_text = ", ".join(f"{k}:{v}" for k, v in baseline.items()) or "none"
    for rank, j in enumerate(sol.chosen, start=1):
        col = A[:, j].toarray().ravel()
        new_c = per_comm(col)
        added_rows = col & ~covered_rows
        added_c = per_comm(added_rows)
        covered_rows |= col
        before = cov_now.copy()
        cov_now = cov_now + added_c
        with np.errstate(invalid="ignore", divide="ignore"):
            share_b = np.where(tot_c > 0, before / tot_c, np.nan)
            share_a = np.where(tot_c > 0, cov_now / tot_c, np.nan)
        closes = in_gap & (share_b < target - 1e-9) & (share_a >= target - 1e-9)
        closed_total += int(closes.sum())
        reached_c = np.flatnonzero(new_c > 0)
        for c in reached_c:
            comm_rows.append(
                {
                    "rank": rank,
                    "site_id": cands["site_id"].iat[j],
                    "community_id": ids[c],
                    "community_name": names[c],
                    "new_weight": float(new_c[c]),
                    "added_weight": float(added_c[c]),
                    "share_before": float(share0[c]),
                    "share_after": float(share_a[c]),
                    "target_share": target,
                    "closes_gap": bool(closes[c]),
                }
            )
        nr, na = scale(new_c)
        ar, aa = scale(added_c)
        order_closed = [c for c in np.flatnonzero(closes)]
        site_rows.append(
            {
                "rank": rank,
                "site_id": cands["site_id"].iat[j],
                "kind": cands["kind"].iat[j],
                "kind_zh": cands["kind_zh"].iat[j] or _KIND_ZH.get(cands["kind"].iat[j], ""),
                "name": cands["name"].iat[j],
                "source": cands["source"].iat[j],
                "area_m2": round(float(area[j]), 1) if np.isfinite(area[j]) else np.nan,
                "new_weight": float(new_c.sum()),
                "added_weight": float(added_c.sum()),
                "new_residents": nr if people else np.nan,
                "added_residents": ar if people else np.nan,
                "new_area_m2": na,
                "added_area_m2": aa,
                "n_communities": int(len(reached_c)),
                "n_closed": int(closes.sum()),
                "closes_gaps": "; ".join(names[c] for c in order_closed),
                "closes_ids": "; ".join(ids[c] for c in order_closed),
                "category": category,
                "threshold_min": _threshold_text(cat, comm),
                "weight_kind": data.weight_kind,
                "snap_m": round(float(snap_m[j]), 1),
                "lon": round(float(lonlat[j, 0]), 7),
                "lat": round(float(lonlat[j, 1]), 7),
                "baseline": base_text,
                "osm_tag": cands["osm_tag"].iat[j],
            }
        )
    sites = gpd.GeoDataFrame(
        pd.DataFrame(site_rows, columns=list(SITE_COLUMNS)),
        geometry=gpd.GeoSeries([cands.geometry.iat[j] for j in sol.chosen], crs=WGS84),
        crs=WGS84,
    )
    sites = sites.astype({"rank": "int64", "n_communities": "int64", "n_closed": "int64"})
    comm_df = pd.DataFrame(
        comm_rows,
        columns=[
            "rank",
            "site_id",
            "community_id",
            "community_name",
            "new_weight",
            "added_weight",
            "share_before",
            "share_after",
            "target_share",
            "closes_gap",
        ],
    )

    # every candidate, for the record
    alone = (
        np.asarray((A.multiply(wd[:, None]) if A.shape[0] else A).sum(axis=0)).ravel()
        if A.shape[1]
        else np.zeros(0)
    )
    chosen_rank = np.zeros(len(cands), dtype=np.int64)
    for r, j in enumerate(sol.chosen, start=1):
        chosen_rank[j] = r
    cand_out = cands.copy()
    cand_out["new_weight"] = alone if len(alone) else np.zeros(len(cands))
    cand_out["chosen_rank"] = chosen_rank
    cand_out["usable"] = usable
    cand_out["reason"] = reason.astype(str)
    cand_out["snap_m"] = np.round(snap_m, 1)
    cand_out["lon"] = lonlat[:, 0] if len(lonlat) else np.zeros(0)
    cand_out["lat"] = lonlat[:, 1] if len(lonlat) else np.zeros(0)

    unreachable = float(wd[~reached].sum()) if len(wd) else 0.0
    if baseline.get("sample"):
        notes.append(
            f"the {baseline['sample']} existing {category} facilities marked 'sample' are SAMPLE data, "
            "not observed: the baseline coverage and so what new sites add rest on them"
        )
    if data.weight_kind == "area":
        notes.append("no population data: weights are m² of residential AREA, not residents")
    if not len(demand_idx):
        notes.append("every resident point of the communities this category applies to is already covered")
    elif unreachable > 0:
        notes.append(
            f"{_ratio(unreachable, float(wd.sum())):.1%} of the uncovered weight is reached by no candidate"
        )
    t4 = time.perf_counter()
    log.info(
        "sites %s k=%d: %s, %d candidates, %d groups, objective %.1f (bound %.1f), %.2f s",
        category,
        k,
        sol.method,
        len(cands),
        sol.n_groups,
        sol.objective,
        sol.bound,
        t4 - t0,
    )
    return SiteChoice(
        category=category,
        category_zh=cat.name_zh,
        k=int(k),
        weight_kind=data.weight_kind,
        weight_label=WEIGHT_LABELS.get(data.weight_kind, data.weight_kind),
        solution=sol,
        sites=sites,
        communities=comm_df,
        candidates=cand_out,
        total_weight=float(w[applies].sum()),
        covered_before=float(w[applies & covered0].sum()),
        uncovered_before=float(w[applies & ~covered0].sum()),
        unreachable_weight=unreachable + float(w[applies & ~covered0 & unsnapped].sum()),
        gaps_before=int(in_gap.sum()),
        gaps_closed=closed_total,
        baseline=baseline,
        demand_points=int(len(demand_idx)),
        notes=notes,
        timings_s={
            "baseline_s": t1 - t0,
            "coverage_matrix_s": t2 - t1,
            "solve_s": t3 - t2,
            "total_s": t4 - t0,
        },
    )


def _target_share(result: PlanResult, category: str, cat) -> float:
    cov = result.coverage
    if cov is not None and len(cov) and "target_share" in cov:
        rows = cov[cov["category"] == category]
        if len(rows):
            return float(rows["target_share"].iloc[0])
    return float(cat.coverage_target or DEFAULT_TARGET_SHARE)


def _threshold_text(cat, comm: pd.DataFrame) -> str:
    types = sorted(set(comm["type"].astype(str))) if len(comm) else []
    parts = sorted({f"{cat.threshold_min(t):g} min {cat.profile_for(t)}" for t in types if cat.applies(t)})
    return ", ".join(parts)


def _baseline(fac: gpd.GeoDataFrame, category: str) -> dict[str, int]:
    f = fac[fac["category"] == category]
    return {str(k): int(v) for k, v in f["source"].fillna("").value_counts().sort_index().items()}


def site_points(choice_or_sites: SiteChoice | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The chosen sites with their routing point as geometry (EPSG:4326)."""
    sites = choice_or_sites.sites if isinstance(choice_or_sites, SiteChoice) else choice_or_sites
    out = sites.copy()
    out = out.set_geometry(gpd.points_from_xy(sites["lon"], sites["lat"], crs=WGS84))
    return out
