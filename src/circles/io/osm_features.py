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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from ..catalog import Catalog
from ..errors import DataFileError, InputError
from ..io.osm import _check_file

__all__ = [
    "BUILDING_COLUMNS",
    "COMMUNITY_COLUMNS",
    "FACILITY_COLUMNS",
    "MIN_COMMUNITY_AREA_M2",
    "RESIDENTIAL_BUILDING_VALUES",
    "UNNAMED_COMMUNITY",
    "osm_communities",
    "osm_facilities",
    "osm_residential_buildings",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
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

Bbox = tuple[float, float, float, float]


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _OsmFeature:
    """One OSM object: id (``osm:w123``), tags, and its geometry in WGS84 degrees: WKB hex of an
    assembled area, or a shapely geometry (Point, LineString, raw ring Polygon)."""

    osm_id: str
    tags: dict[str, str]
    wkb: str | None = None
    geometry: BaseGeometry | None = None


def _osm_id(kind: str, ident: int) -> str:
    return f"osm:{kind}{ident}"


def _check_bbox(bbox: Iterable[float] | None) -> Bbox | None:
    if bbox is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"bbox must be (min_lon, min_lat, max_lon, max_lat) in degrees (got {bbox!r})"
        ) from e
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x0 >= x1 or y0 >= y1:
        raise InputError(f"bbox must be (min_lon, min_lat, max_lon, max_lat) with min < max (got {bbox!r})")
    if not (-180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90):
        raise InputError(f"bbox must be in WGS84 degrees (got {bbox!r})")
    return (x0, y0, x1, y1)


def _in_bbox(points: gpd.GeoSeries | np.ndarray, bbox: Bbox | None) -> np.ndarray:
    """Boolean mask: points (shapely Points, WGS84) inside ``bbox`` (edges included)."""
    pts = np.asarray(points, dtype=object)
    if bbox is None:
        return np.ones(len(pts), dtype=bool)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    x0, y0, x1, y1 = bbox
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _read(
    path: Path,
    keep: Callable[[Mapping[str, str]], bool],
    *,
    nodes: bool = False,
    ways: bool = False,
) -> tuple[list[_OsmFeature], list[_OsmFeature], list[_OsmFeature], int]:
    """Read the objects whose tags pass ``keep``.

    Returns ``(areas, nodes, ways, relations_without_area)``: areas (closed ways and multipolygon
    relations) carry WKB hex, or, for a closed way libosmium could not assemble, its raw (possibly
    invalid) ring as a Polygon; nodes (when ``nodes``) a Point; ways (when ``ways``) their line as a
    LineString (or a Point for a single located node); all in WGS84 degrees. The last item counts
    matching relations that produced no area (not multipolygons, or broken ones). Raises
    :class:`DataFileError` for a file that is missing or not readable as OSM.
    """
    import osmium
    from osmium.geom import WKBFactory

    path = _check_file(path)
    wkb = WKBFactory()
    areas: list[_OsmFeature] = []
    node_feats: list[_OsmFeature] = []
    way_feats: list[_OsmFeature] = []
    rings: dict[int, tuple[dict[str, str], list[tuple[float, float]]]] = {}
    failed_ways: list[int] = []
    relation_ids: set[int] = set()
    area_relation_ids: set[int] = set()
    failed_relations = 0
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas():
            if len(obj.tags) == 0:
                continue
            if obj.is_area():
                tags = dict(obj.tags)
                if not keep(tags):
                    continue
                kind = "w" if obj.from_way() else "r"
                if kind == "r":
                    area_relation_ids.add(obj.orig_id())
                try:
                    geom = wkb.create_multipolygon(obj)
                except RuntimeError as e:  # broken geometry: skip the area, keep reading
                    log.debug("%s: no polygon for %s: %s", path, _osm_id(kind, obj.orig_id()), e)
                    if kind == "w":
                        failed_ways.append(obj.orig_id())
                    else:
                        failed_relations += 1
                    continue
                areas.append(_OsmFeature(_osm_id(kind, obj.orig_id()), tags, wkb=geom))
            elif obj.is_node():
                if not nodes:
                    continue
                tags = dict(obj.tags)
                if keep(tags) and obj.location.valid():
                    pt = Point(obj.location.lon, obj.location.lat)
                    node_feats.append(_OsmFeature(_osm_id("n", obj.id), tags, geometry=pt))
            elif obj.is_way():
                tags = dict(obj.tags)
                if not keep(tags):
                    continue
                coords = [(nd.lon, nd.lat) for nd in obj.nodes if nd.location.valid()]
                if not coords:
                    continue
                if obj.is_closed() and len(coords) >= 4:
                    rings[obj.id] = (tags, coords)
                if ways:
                    geom = shapely.LineString(coords) if len(coords) > 1 else Point(coords[0])
                    way_feats.append(_OsmFeature(_osm_id("w", obj.id), tags, geometry=geom))
            elif obj.is_relation():
                if keep(dict(obj.tags)):
                    relation_ids.add(obj.id)
    except (RuntimeError, ValueError, OSError) as e:
        raise DataFileError(f"{path}: cannot read as OpenStreetMap data ({e})") from e
    # A closed way that libosmium could not assemble (e.g. a self-intersecting ring): keep its ring as
    # a polygon; callers repair it with make_valid.
    for way_id in failed_ways:
        if way_id in rings:
            tags, coords = rings[way_id]
            areas.append(_OsmFeature(_osm_id("w", way_id), tags, geometry=Polygon(coords)))
    if failed_ways or failed_relations:
        log.warning(
            "%s: %d closed ways and %d multipolygon relations did not assemble into valid "
            "polygons; the ways are kept as raw rings (repaired later), the relations skipped",
            path,
            len(failed_ways),
            failed_relations,
        )
    return areas, node_feats, way_feats, len(relation_ids - area_relation_ids)


def _area_geoms(features: list[_OsmFeature]) -> np.ndarray:
    """The polygons of area features (from WKB, or the raw ring of a way that did not assemble)."""
    out = np.empty(len(features), dtype=object)
    with_wkb = [i for i, f in enumerate(features) if f.wkb is not None]
    if with_wkb:
        out[with_wkb] = shapely.from_wkb([features[i].wkb for i in with_wkb])
    for i, f in enumerate(features):
        if f.wkb is None:
            out[i] = f.geometry
    return out


# --- geometry helpers ---------------------------------------------------------------------------


def _polygons(geom: BaseGeometry | None) -> list[Polygon]:
    """The non-empty polygons inside ``geom`` (any type, nested collections too)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def _clean(geom: BaseGeometry | None, min_part: float = 0.0) -> BaseGeometry | None:
    """``geom`` made valid and reduced to its polygonal parts (parts with area < ``min_part`` dropped,
    in the units of ``geom``): a Polygon, a MultiPolygon or None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in _polygons(geom) if p.area > min_part]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _to_crs(geoms: Iterable[BaseGeometry], src: str, dst: str) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(list(geoms), crs=src).to_crs(dst).values, dtype=object)


# --- facilities ---------------------------------------------------------------------------------


def _facility_frame(rows: list[dict], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
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
    box = _check_bbox(bbox)
    categories = [c for c in catalog.values() if c.in_osm]
    order = {c.key: i for i, c in enumerate(catalog.values())}
    if not categories:
        log.info("no catalog category has OSM tag filters; no facilities read")
        return _facility_frame([], [])

    def keep(tags: Mapping[str, str]) -> bool:
        return any(c.matches(tags) for c in categories)

    areas, nodes, ways, lost = _read(Path(osm_path), keep, nodes=True, ways=True)
    if lost:
        log.info("%s: %d matching relations are not multipolygons and were skipped", osm_path, lost)

    points: dict[str, tuple[dict[str, str], BaseGeometry]] = {}
    for f in nodes:
        points[f.osm_id] = (f.tags, f.geometry)
    for f in ways:  # fallback for ways that are not areas; areas below replace closed ones
        line = f.geometry
        pt = line if isinstance(line, Point) else line.interpolate(0.5, normalized=True)
        points[f.osm_id] = (f.tags, pt)
    for f, poly in zip(areas, _area_geoms(areas)):
        poly = _clean(poly)
        if poly is not None:
            points[f.osm_id] = (f.tags, shapely.point_on_surface(poly))

    rows: list[dict] = []
    geoms: list[BaseGeometry] = []
    ids = list(points)
    inside = _in_bbox(np.asarray([points[i][1] for i in ids], dtype=object), box)
    for fid, ok in zip(ids, inside):
        if not ok:
            continue
        tags, pt = points[fid]
        tag_json = json.dumps(tags, ensure_ascii=False, sort_keys=True)
        name = tags.get("name") or tags.get("name:zh") or ""
        for c in categories:
            if c.matches(tags):
                rows.append(
                    {
                        "facility_id": fid,
                        "category": c.key,
                        "name": name,
                        "floor_area_m2": np.nan,
                        "source": "osm",
                        "osm_tags": tag_json,
                    }
                )
                geoms.append(pt)
    gdf = _facility_frame(rows, geoms)
    if len(gdf):
        keys = pd.DataFrame(
            {
                "cat": gdf["category"].map(order),
                "kind": gdf["facility_id"].str[4].map({"n": 0, "w": 1, "r": 2}),
                "num": gdf["facility_id"].str[5:].astype("int64"),
            }
        )
        gdf = gdf.loc[keys.sort_values(["cat", "kind", "num"], kind="stable").index].reset_index(drop=True)
    counts = gdf["category"].value_counts().to_dict() if len(gdf) else {}
    log.info(
        "%s: %d facility rows from OSM (%s)",
        osm_path,
        len(gdf),
        ", ".join(f"{k} {counts.get(k, 0)}" for k in (c.key for c in categories)),
    )
    return gdf


# --- communities --------------------------------------------------------------------------------


def _community_frame(rows: list[dict], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
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
    features: list[_OsmFeature],
    geoms_wgs: np.ndarray,
    metric_crs: str,
) -> list[tuple[_OsmFeature, BaseGeometry, float]]:
    """Valid, non-overlapping residential polygons ≥ :data:`MIN_COMMUNITY_AREA_M2`:
    ``[(feature, geometry in WGS84, area in m²)]`` in input order."""
    n = len(features)
    if n == 0:
        return []
    metric = _to_crs([g if g is not None else Polygon() for g in geoms_wgs], WGS84, metric_crs)
    cleaned = [_clean(g, SLIVER_M2) for g in metric]
    changed = [not (g is not None and g.is_valid) for g in geoms_wgs]
    areas = np.array([g.area if g is not None else 0.0 for g in cleaned])
    candidates = [i for i in range(n) if cleaned[i] is not None and areas[i] >= MIN_COMMUNITY_AREA_M2]
    dropped_small = sum(1 for i in range(n) if cleaned[i] is not None) - len(candidates)
    dropped_invalid = sum(1 for g in cleaned if g is None)

    # Smallest first: an area keeps all of its own polygon, larger areas lose what smaller ones hold.
    candidates.sort(key=lambda i: (areas[i], features[i].osm_id))
    tree = shapely.STRtree([cleaned[i] for i in candidates])
    final: dict[int, BaseGeometry] = {}
    cut = 0
    for rank, i in enumerate(candidates):
        geom = cleaned[i]
        hits = tree.query(geom, predicate="intersects")
        cutters = [final[candidates[j]] for j in hits if j < rank and candidates[j] in final]
        if cutters:
            rest = geom.difference(shapely.union_all(cutters))
            if rest.area < geom.area:
                cut += 1
                changed[i] = True
            geom = _clean(rest, SLIVER_M2)
            if geom is None or geom.area < MIN_COMMUNITY_AREA_M2:
                continue  # what is left is too small: the smaller areas hold it
        final[i] = geom

    kept = sorted(final)
    back = _to_crs([final[i] for i in kept if changed[i]], metric_crs, WGS84)
    back_iter = iter(back)
    out = []
    for i in kept:
        geom = next(back_iter) if changed[i] else geoms_wgs[i]
        geom = _clean(geom)
        if geom is None:
            continue
        out.append((features[i], geom, float(final[i].area)))
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


def _communities(path: Path, metric_crs: str) -> list[tuple[_OsmFeature, BaseGeometry, float]]:
    areas, _, _, lost = _read(path, _is_residential)
    if lost:
        log.info("%s: %d landuse=residential relations are not multipolygons and were skipped", path, lost)
    return _resolve_communities(areas, _area_geoms(areas), metric_crs)


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
    box = _check_bbox(bbox)
    resolved = _communities(Path(osm_path), metric_crs)
    rows, geoms = [], []
    inside = _in_bbox(shapely.point_on_surface(np.asarray([g for _, g, _ in resolved], dtype=object)), box)
    for (f, geom, area), ok in zip(resolved, inside):
        if not ok:
            continue
        name = f.tags.get("name") or f.tags.get("name:zh") or f"{UNNAMED_COMMUNITY} {f.osm_id}"
        rows.append(
            {
                "community_id": f.osm_id,
                "name": name,
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
    box = _check_bbox(bbox)
    path = Path(osm_path)
    areas, _, _, _ = _read(path, lambda t: _is_residential(t) or _is_building(t))
    geoms = _area_geoms(areas)
    res = [i for i, f in enumerate(areas) if _is_residential(f.tags)]
    bld = [i for i, f in enumerate(areas) if _is_building(f.tags) and not _is_residential(f.tags)]
    communities = _resolve_communities(
        [areas[i] for i in res], geoms[res] if res else np.empty(0, object), metric_crs
    )
    columns = list(BUILDING_COLUMNS)
    empty = gpd.GeoDataFrame(
        pd.DataFrame(
            {c: pd.Series(dtype="float64" if c in ("levels", "area_m2") else object) for c in columns}
        ),
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )
    if not bld or not communities:
        log.info("%s: 0 residential buildings", path)
        return empty

    polys = [_clean(geoms[i]) for i in bld]
    ok = [k for k, p in enumerate(polys) if p is not None]
    bld = [bld[k] for k in ok]
    polys = [polys[k] for k in ok]
    reps = shapely.point_on_surface(np.asarray(polys, dtype=object))
    tree = shapely.STRtree([g for _, g, _ in communities])
    src_idx, com_idx = tree.query(reps, predicate="intersects")
    owner: dict[int, int] = {}
    for s, c in zip(src_idx, com_idx):
        owner.setdefault(int(s), int(c))  # communities do not overlap, so at most one (bar edges)
    inside = _in_bbox(reps, box)
    keep = [k for k in range(len(bld)) if k in owner and inside[k]]
    if not keep:
        log.info("%s: 0 residential buildings", path)
        return empty
    metric_area = gpd.GeoSeries([polys[k] for k in keep], crs=WGS84).to_crs(metric_crs).area.to_numpy()
    rows = []
    for k, area in zip(keep, metric_area):
        tags = areas[bld[k]].tags
        rows.append(
            {
                "building_id": areas[bld[k]].osm_id,
                "building": tags["building"],
                "name": tags.get("name") or tags.get("name:zh") or "",
                "levels": _levels(tags),
                "area_m2": float(area),
                "community_id": communities[owner[k]][0].osm_id,
            }
        )
    df = pd.DataFrame(rows, columns=columns).astype({"levels": "float64", "area_m2": "float64"})
    gdf = gpd.GeoDataFrame(
        df, geometry=gpd.GeoSeries([polys[k] for k in keep], crs=WGS84, index=df.index), crs=WGS84
    )
    log.info("%s: %d residential buildings in %d communities", path, len(gdf), gdf["community_id"].nunique())
    return gdf
