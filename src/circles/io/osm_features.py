"""Facilities, communities and residential buildings read from an OpenStreetMap extract.

Everything returned here is a :class:`geopandas.GeoDataFrame` in **WGS84 (EPSG:4326, degrees)**, the
CRS of OSM itself; areas (``area_m2``) are computed in a metric CRS (default UTM 48N, EPSG:32648) and
are in square metres. ``bbox`` arguments are ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84 degrees,
edges included.

Polygons come from pyosmium's area assembly (``osmium.FileProcessor(...).with_areas()``): closed ways
and ``type=multipolygon`` relations. OSM ids are written ``osm:n<id>`` (node), ``osm:w<id>`` (way) and
``osm:r<id>`` (relation).

Map data © OpenStreetMap contributors (ODbL); whatever is derived from it stays under the ODbL.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from .._common import WGS84, check_bbox
from ..catalog import Catalog, Category
from . import _osm_objects

__all__ = [
    "BUILDING_COLUMNS",
    "COMMUNITY_COLUMNS",
    "DEFAULT_METRIC_CRS",
    "FACILITY_COLUMNS",
    "MIN_COMMUNITY_AREA_M2",
    "RESIDENTIAL_BUILDING_VALUES",
    "UNNAMED_COMMUNITY",
    "osm_communities",
    "osm_facilities",
    "osm_residential_buildings",
]

log = logging.getLogger(__name__)

#: Metric CRS in which areas are computed unless a region says otherwise: UTM 48N (metres), Chengdu.
DEFAULT_METRIC_CRS = "EPSG:32648"

#: Columns of :func:`osm_facilities` (plus ``geometry``).
FACILITY_COLUMNS: tuple[str, ...] = ("facility_id", "category", "name", "floor_area_m2", "source", "osm_tags")
#: Columns of :func:`osm_communities` (plus ``geometry``).
COMMUNITY_COLUMNS: tuple[str, ...] = (
    "community_id",
    "name",
    "type",
    "households",
    "population",
    "area_m2",
    "source",
)
#: Columns of :func:`osm_residential_buildings` (plus ``geometry``).
BUILDING_COLUMNS: tuple[str, ...] = ("building_id", "building", "name", "levels", "area_m2", "community_id")

#: Residential areas smaller than this (m², after overlaps are resolved) are not communities: in the
#: 2018 Chengdu extract the smallest named 小区 is about 2,750 m², so this only drops slivers, single
#: courtyards and mapping errors. Project default.
MIN_COMMUNITY_AREA_M2 = 2000.0
#: Parts of a (multi)polygon smaller than this (m²) are dropped as slivers after overlaps are cut away.
SLIVER_M2 = 1.0
#: Name given to a ``landuse=residential`` area without a name (followed by its id).
UNNAMED_COMMUNITY = "未命名小区 unnamed residential area"
#: ``building=*`` values counted as residential buildings (inside residential landuse only).
RESIDENTIAL_BUILDING_VALUES: tuple[str, ...] = ("residential", "apartments", "house", "yes")

_COMMUNITY_SOURCE = "osm landuse=residential"
_ID_KIND_ORDER = {"n": 0, "w": 1, "r": 2}


def _name(tags: Mapping[str, str]) -> str:
    return tags.get("name") or tags.get("name:zh") or ""


def _id_order(ids: pd.Series) -> pd.DataFrame:
    """Sort keys of OSM ids (``osm:w123``): kind (node, way, relation), then number."""
    return pd.DataFrame({"kind": ids.str[4].map(_ID_KIND_ORDER), "num": ids.str[5:].astype("int64")})


# --- facilities ---------------------------------------------------------------------------------


def _facility_frame(rows: list[dict[str, Any]], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=list(FACILITY_COLUMNS))
    df = df.astype(
        {
            "facility_id": object,
            "category": object,
            "name": object,
            "source": object,
            "osm_tags": object,
            "floor_area_m2": "float64",
        }
    )
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84, index=df.index), crs=WGS84)


def osm_facilities(
    osm_path: Path | str,
    catalog: Catalog,
    bbox: Iterable[float] | None = None,
) -> gpd.GeoDataFrame:
    """Facilities of the ``catalog`` categories found in an OSM file, as points in EPSG:4326.

    Every node, way and multipolygon relation whose tags match a category's ``osm_tags`` filters
    (:meth:`circles.catalog.Category.matches`) becomes one row *per matching category* (an object can
    match several). Geometry is a Point in WGS84 degrees: a node as it is; an area (closed way or
    multipolygon relation, assembled by pyosmium) as a representative point guaranteed to lie inside
    the polygon (a closed way whose ring does not assemble, e.g. a self-intersecting one, is repaired
    with ``make_valid`` first); an open way, or a closed way tagged ``area=no``, as the middle of its
    line. Relations that are not multipolygons have no geometry here and are skipped (logged).

    Columns: ``facility_id`` (``osm:n123``, ``osm:w456``, ``osm:r789``; unique together with
    ``category``), ``category`` (catalog key), ``name`` (``name``, else ``name:zh``, else empty),
    ``floor_area_m2`` (m²; always NaN, OSM has no floor-area tag), ``source`` (``"osm"``) and
    ``osm_tags`` (the object's tags as a JSON object string). Rows are ordered by catalog order, then
    id. Categories without ``osm_tags`` (e.g. party-mass service stations) never yield rows.

    With ``bbox`` = ``(min_lon, min_lat, max_lon, max_lat)`` in degrees only points inside it (edges
    included) are kept. Raises :class:`DataFileError` for a missing or unreadable file and
    :class:`InputError` for a malformed bbox.
    """
    box = check_bbox(bbox)
    categories = [c for c in catalog.values() if c.in_osm]
    if not categories:
        log.info("no catalog category has OSM tag filters; no facilities read")
        return _facility_frame([], [])

    def keep(tags: Mapping[str, str]) -> bool:
        return any(c.matches(tags) for c in categories)

    found = _osm_objects.read_features(Path(osm_path), keep, nodes=True, ways=True)
    if found.relations_without_area:
        log.info(
            "%s: %d matching relations are not multipolygons and were skipped",
            osm_path,
            found.relations_without_area,
        )
    points = _facility_points(found)
    ids = list(points)
    inside = _osm_objects.points_in_bbox(np.asarray([points[i][1] for i in ids], dtype=object), box)
    gdf = _facility_rows({i: points[i] for i, ok in zip(ids, inside) if ok}, categories)
    if len(gdf):
        order = {c.key: i for i, c in enumerate(catalog.values())}
        keys = _id_order(gdf["facility_id"]).assign(cat=gdf["category"].map(order))
        gdf = gdf.loc[keys.sort_values(["cat", "kind", "num"], kind="stable").index].reset_index(drop=True)
    counts = gdf["category"].value_counts().to_dict() if len(gdf) else {}
    log.info(
        "%s: %d facility rows from OSM (%s)",
        osm_path,
        len(gdf),
        ", ".join(f"{k} {counts.get(k, 0)}" for k in (c.key for c in categories)),
    )
    return gdf


def _facility_points(found: _osm_objects.OsmFeatures) -> dict[str, tuple[dict[str, str], BaseGeometry]]:
    """OSM id -> (tags, point in WGS84): nodes as they are, ways at the middle of their line, areas at
    a representative point of their (repaired) polygon; an area replaces the line of its closed way."""
    points: dict[str, tuple[dict[str, str], BaseGeometry]] = {}
    for f in found.nodes:
        points[f.osm_id] = (f.tags, f.geometry)
    for f in found.ways:  # fallback for ways that are not areas; areas below replace closed ones
        line = f.geometry
        if line is None:
            continue
        pt = line if isinstance(line, Point) else line.interpolate(0.5, normalized=True)
        points[f.osm_id] = (f.tags, pt)
    for f, poly in zip(found.areas, _osm_objects.area_geoms(found.areas)):
        poly = _osm_objects.clean_polygons(poly)
        if poly is not None:
            points[f.osm_id] = (f.tags, shapely.point_on_surface(poly))
    return points


def _facility_rows(
    points: Mapping[str, tuple[dict[str, str], BaseGeometry]], categories: Sequence[Category]
) -> gpd.GeoDataFrame:
    """One row per point and matching category, in the order of ``points`` then ``categories``."""
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    for fid, (tags, pt) in points.items():
        tag_json = json.dumps(tags, ensure_ascii=False, sort_keys=True)
        for c in categories:
            if c.matches(tags):
                rows.append(
                    {
                        "facility_id": fid,
                        "category": c.key,
                        "name": _name(tags),
                        "floor_area_m2": np.nan,
                        "source": "osm",
                        "osm_tags": tag_json,
                    }
                )
                geoms.append(pt)
    return _facility_frame(rows, geoms)


# --- communities --------------------------------------------------------------------------------


class _Community(NamedTuple):
    feature: _osm_objects.OsmFeature
    geometry: BaseGeometry  # WGS84 degrees
    area_m2: float


def _community_frame(rows: list[dict[str, Any]], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=list(COMMUNITY_COLUMNS))
    df = df.astype(
        {
            "community_id": object,
            "name": object,
            "type": object,
            "source": object,
            "households": "float64",
            "population": "float64",
            "area_m2": "float64",
        }
    )
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84, index=df.index), crs=WGS84)


def _is_residential(tags: Mapping[str, str]) -> bool:
    return tags.get("landuse") == "residential"


def _resolve_communities(
    features: list[_osm_objects.OsmFeature],
    geoms_wgs: np.ndarray,
    metric_crs: str,
) -> list[_Community]:
    """Valid, non-overlapping residential polygons ≥ :data:`MIN_COMMUNITY_AREA_M2`, in input order,
    with their geometry in WGS84 and area in m² (in ``metric_crs``)."""
    n = len(features)
    if n == 0:
        return []
    metric = _osm_objects.to_crs([g if g is not None else Polygon() for g in geoms_wgs], WGS84, metric_crs)
    cleaned = [_osm_objects.clean_polygons(g, SLIVER_M2) for g in metric]
    polys = {i: g for i, g in enumerate(cleaned) if g is not None}
    changed = [not (g is not None and g.is_valid) for g in geoms_wgs]
    candidates = [i for i, g in polys.items() if g.area >= MIN_COMMUNITY_AREA_M2]
    dropped_small = len(polys) - len(candidates)
    dropped_invalid = n - len(polys)

    # Smallest first: an area keeps all of its own polygon, larger areas lose what smaller ones hold.
    candidates.sort(key=lambda i: (polys[i].area, features[i].osm_id))
    tree = shapely.STRtree([polys[i] for i in candidates])
    final: dict[int, BaseGeometry] = {}
    cut = 0
    for rank, i in enumerate(candidates):
        geom: BaseGeometry | None = polys[i]
        hits = tree.query(geom, predicate="intersects")
        cutters = [final[candidates[j]] for j in hits if j < rank and candidates[j] in final]
        if cutters:
            rest = polys[i].difference(shapely.union_all(cutters))
            if rest.area < polys[i].area:
                cut += 1
                changed[i] = True
            geom = _osm_objects.clean_polygons(rest, SLIVER_M2)
            if geom is None or geom.area < MIN_COMMUNITY_AREA_M2:
                continue  # what is left is too small: the smaller areas hold it
        final[i] = geom

    kept = sorted(final)
    back = iter(_osm_objects.to_crs([final[i] for i in kept if changed[i]], metric_crs, WGS84))
    out = []
    for i in kept:
        geom = _osm_objects.clean_polygons(next(back) if changed[i] else geoms_wgs[i])
        if geom is not None:
            out.append(_Community(features[i], geom, float(final[i].area)))
    log.info(
        "residential areas: %d read, %d without a valid polygon, %d below %.0f m², %d cut by smaller "
        "overlapping areas, %d fully covered or left too small, %d kept",
        n,
        dropped_invalid,
        dropped_small,
        MIN_COMMUNITY_AREA_M2,
        cut,
        len(candidates) - len(final),
        len(out),
    )
    return out


def osm_communities(
    osm_path: Path | str,
    bbox: Iterable[float] | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Community polygons derived from ``landuse=residential`` areas of an OSM file, in EPSG:4326.

    No public 社区 (community) boundaries exist for Chengdu, so each residential area, which in
    Chengdu OSM is usually one named 小区 (residential compound), stands in for a community. Closed
    ways and multipolygon relations are assembled by pyosmium, then:

    * invalid geometries are repaired (``make_valid``; only polygonal parts kept) and empty ones dropped;
    * areas smaller than :data:`MIN_COMMUNITY_AREA_M2` (2,000 m²) are dropped, before and after overlaps
      are resolved;
    * overlaps are resolved so that no two polygons overlap: areas are processed from the smallest to
      the largest and each loses what the smaller ones already hold. A compound nested inside a larger
      residential area is kept whole and cut out of the outer one (a hole); of two partly overlapping
      areas the smaller keeps the shared part. An area left below 2,000 m² is dropped, and its land
      stays with the smaller areas that took it.

    Columns: ``community_id`` (``osm:w123`` / ``osm:r123``), ``name`` (``name``, else ``name:zh``,
    else ``"未命名小区 unnamed residential area osm:w123"``), ``type`` (``"urban"``), ``households`` and
    ``population`` (NaN: unknown from OSM), ``area_m2`` (m², computed in ``metric_crs``, after
    overlaps are removed) and ``source`` (``"osm landuse=residential"``); geometry is a Polygon or
    MultiPolygon in WGS84 degrees. With ``bbox`` (WGS84 degrees) only communities whose
    representative point (a point inside the final polygon) lies in it are returned; overlaps are
    resolved over the whole file first, so the result does not depend on the bbox.
    """
    box = check_bbox(bbox)
    path = Path(osm_path)
    found = _osm_objects.read_features(path, _is_residential)
    if found.relations_without_area:
        log.info(
            "%s: %d landuse=residential relations are not multipolygons and were skipped",
            path,
            found.relations_without_area,
        )
    resolved = _resolve_communities(found.areas, _osm_objects.area_geoms(found.areas), metric_crs)
    reps = shapely.point_on_surface(np.asarray([c.geometry for c in resolved], dtype=object))
    inside = _osm_objects.points_in_bbox(reps, box)
    rows, geoms = [], []
    for (f, geom, area), ok in zip(resolved, inside):
        if not ok:
            continue
        rows.append(
            {
                "community_id": f.osm_id,
                "name": _name(f.tags) or f"{UNNAMED_COMMUNITY} {f.osm_id}",
                "type": "urban",
                "households": np.nan,
                "population": np.nan,
                "area_m2": area,
                "source": _COMMUNITY_SOURCE,
            }
        )
        geoms.append(geom)
    gdf = _community_frame(rows, geoms)
    log.info(
        "%s: %d communities (landuse=residential)%s", osm_path, len(gdf), f" inside bbox {box}" if box else ""
    )
    return gdf


# --- residential buildings ----------------------------------------------------------------------


def _is_building(tags: Mapping[str, str]) -> bool:
    return tags.get("building") in RESIDENTIAL_BUILDING_VALUES


def _levels(tags: Mapping[str, str]) -> float:
    try:
        value = float(tags.get("building:levels", "nan").split(";")[0])
    except ValueError:
        return float("nan")
    return value if math.isfinite(value) and value > 0 else float("nan")


def _building_frame(rows: list[dict[str, Any]], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
    if not rows:
        columns = list(BUILDING_COLUMNS)
        return gpd.GeoDataFrame(
            pd.DataFrame(
                {c: pd.Series(dtype="float64" if c in ("levels", "area_m2") else object) for c in columns}
            ),
            geometry=gpd.GeoSeries([], crs=WGS84),
            crs=WGS84,
        )
    df = pd.DataFrame(rows, columns=list(BUILDING_COLUMNS)).astype(
        {"levels": "float64", "area_m2": "float64"}
    )
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84, index=df.index), crs=WGS84)


def osm_residential_buildings(
    osm_path: Path | str,
    bbox: Iterable[float] | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Footprints of residential buildings, for spreading resident points over communities; EPSG:4326.

    A building is an area (closed way or multipolygon relation) tagged ``building`` = one of
    :data:`RESIDENTIAL_BUILDING_VALUES` (residential, apartments, house, yes) whose representative
    point lies inside one of the communities of :func:`osm_communities` (``landuse=residential``
    after overlap resolution). ``building=yes`` elsewhere (shops, offices, stations) is left out, and
    so are building nodes (no footprint).

    Columns: ``building_id`` (``osm:w123``), ``building`` (tag value), ``name`` (may be empty),
    ``levels`` (``building:levels`` as a number, NaN when absent), ``area_m2`` (footprint in m², in
    ``metric_crs``) and ``community_id`` (the community it lies in); geometry is a Polygon or
    MultiPolygon in WGS84 degrees. With ``bbox`` (WGS84 degrees) only buildings whose representative
    point lies in it are returned.
    """
    box = check_bbox(bbox)
    path = Path(osm_path)
    areas = _osm_objects.read_features(path, lambda t: _is_residential(t) or _is_building(t)).areas
    geoms = _osm_objects.area_geoms(areas)
    res = [i for i, f in enumerate(areas) if _is_residential(f.tags)]
    bld = [i for i, f in enumerate(areas) if _is_building(f.tags) and not _is_residential(f.tags)]
    communities = _resolve_communities(
        [areas[i] for i in res], geoms[res] if res else np.empty(0, object), metric_crs
    )
    if not bld or not communities:
        log.info("%s: 0 residential buildings", path)
        return _building_frame([], [])

    buildings: list[tuple[_osm_objects.OsmFeature, BaseGeometry]] = []
    for i in bld:
        poly = _osm_objects.clean_polygons(geoms[i])
        if poly is not None:
            buildings.append((areas[i], poly))
    reps = shapely.point_on_surface(np.asarray([p for _, p in buildings], dtype=object))
    owner = _owners(reps, communities)
    inside = _osm_objects.points_in_bbox(reps, box)
    keep = [k for k in range(len(buildings)) if k in owner and inside[k]]
    if not keep:
        log.info("%s: 0 residential buildings", path)
        return _building_frame([], [])
    polys = [buildings[k][1] for k in keep]
    metric_area = gpd.GeoSeries(polys, crs=WGS84).to_crs(metric_crs).area.to_numpy()
    rows = []
    for k, area in zip(keep, metric_area):
        feature = buildings[k][0]
        rows.append(
            {
                "building_id": feature.osm_id,
                "building": feature.tags["building"],
                "name": _name(feature.tags),
                "levels": _levels(feature.tags),
                "area_m2": float(area),
                "community_id": communities[owner[k]].feature.osm_id,
            }
        )
    gdf = _building_frame(rows, polys)
    log.info("%s: %d residential buildings in %d communities", path, len(gdf), gdf["community_id"].nunique())
    return gdf


def _owners(points: np.ndarray, communities: list[_Community]) -> dict[int, int]:
    """Point index -> index of the community it lies in (the first one found on a shared edge)."""
    tree = shapely.STRtree([c.geometry for c in communities])
    src_idx, com_idx = tree.query(points, predicate="intersects")
    owner: dict[int, int] = {}
    for s, c in zip(src_idx, com_idx):
        owner.setdefault(int(s), int(c))  # communities do not overlap, so at most one (bar edges)
    return owner
