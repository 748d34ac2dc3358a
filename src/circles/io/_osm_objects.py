"""Shared internals of the OSM extractors (facilities, communities, buildings, candidate sites): the
tagged objects of an OpenStreetMap file with their geometry, and polygon clean-up.

Private to :mod:`circles.io`; its names are public within it and the extractors import it by module
name (``from . import _osm_objects``). Geometries are in WGS84 (EPSG:4326, degrees) unless a function
says otherwise. Polygons come from pyosmium's area assembly (closed ways and ``type=multipolygon``
relations). OSM ids are written ``osm:n<id>`` (node), ``osm:w<id>`` (way) and ``osm:r<id>`` (relation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from .._common import BBox
from ..errors import DataFileError
from .osm import check_osm_file

if TYPE_CHECKING:  # pragma: no cover
    from osmium.osm import Area, Node, Relation, Way

log = logging.getLogger(__name__)

#: Decides from an object's tags whether it is read.
TagFilter = Callable[[Mapping[str, str]], bool]


@dataclass
class OsmFeature:
    """One OSM object: id (``osm:w123``), tags, and its geometry in WGS84 degrees: WKB hex of an
    assembled area, or a shapely geometry (Point, LineString, raw ring Polygon)."""

    osm_id: str
    tags: dict[str, str]
    wkb: str | None = None
    geometry: BaseGeometry | None = None


@dataclass
class OsmFeatures:
    """The objects of a file that passed a tag filter (see :func:`read_features`)."""

    areas: list[OsmFeature] = field(default_factory=list)
    nodes: list[OsmFeature] = field(default_factory=list)
    ways: list[OsmFeature] = field(default_factory=list)
    #: Matching relations that produced no area (not multipolygons, or broken ones).
    relations_without_area: int = 0


def osm_id(kind: str, ident: int) -> str:
    """``'osm:w123'`` for kind ``'w'`` (``'n'`` node, ``'w'`` way, ``'r'`` relation) and id 123."""
    return f"osm:{kind}{ident}"


# --- reading ------------------------------------------------------------------------------------


def read_features(path: Path, keep: TagFilter, *, nodes: bool = False, ways: bool = False) -> OsmFeatures:
    """Read the objects whose tags pass ``keep``.

    Areas (closed ways and multipolygon relations) carry WKB hex, or, for a closed way libosmium could
    not assemble, its raw (possibly invalid) ring as a Polygon; nodes (when ``nodes``) a Point; ways
    (when ``ways``) their line as a LineString (or a Point for a single located node); all in WGS84
    degrees. Raises :class:`DataFileError` for a file that is missing or not readable as OSM.
    """
    import osmium

    path = check_osm_file(path)
    collect = _Collector(path, keep, nodes=nodes, ways=ways)
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas():
            if len(obj.tags) == 0:
                continue
            if isinstance(obj, osmium.osm.Area):
                collect.area(obj)
            elif isinstance(obj, osmium.osm.Node):
                collect.node(obj)
            elif isinstance(obj, osmium.osm.Way):
                collect.way(obj)
            elif isinstance(obj, osmium.osm.Relation):
                collect.relation(obj)
    except (RuntimeError, ValueError, OSError) as e:
        raise DataFileError(f"{path}: cannot read as OpenStreetMap data ({e})") from e
    return collect.result()


class _Collector:
    """The objects of one pass over a file, by kind; :meth:`result` adds the rings of closed ways that
    did not assemble into areas."""

    def __init__(self, path: Path, keep: TagFilter, *, nodes: bool, ways: bool) -> None:
        from osmium.geom import WKBFactory

        self.path = path
        self.keep = keep
        self.with_nodes = nodes
        self.with_ways = ways
        self.wkb = WKBFactory()
        self.out = OsmFeatures()
        self.rings: dict[int, tuple[dict[str, str], list[tuple[float, float]]]] = {}
        self.failed_ways: list[int] = []
        self.failed_relations = 0
        self.relation_ids: set[int] = set()
        self.area_relation_ids: set[int] = set()

    def area(self, obj: Area) -> None:
        tags = dict(obj.tags)
        if not self.keep(tags):
            return
        kind = "w" if obj.from_way() else "r"
        if kind == "r":
            self.area_relation_ids.add(obj.orig_id())
        try:
            geom = self.wkb.create_multipolygon(obj)
        except RuntimeError as e:  # broken geometry: skip the area, keep reading
            log.debug("%s: no polygon for %s: %s", self.path, osm_id(kind, obj.orig_id()), e)
            if kind == "w":
                self.failed_ways.append(obj.orig_id())
            else:
                self.failed_relations += 1
            return
        self.out.areas.append(OsmFeature(osm_id(kind, obj.orig_id()), tags, wkb=geom))

    def node(self, obj: Node) -> None:
        if not self.with_nodes:
            return
        tags = dict(obj.tags)
        if self.keep(tags) and obj.location.valid():
            pt = Point(obj.location.lon, obj.location.lat)
            self.out.nodes.append(OsmFeature(osm_id("n", obj.id), tags, geometry=pt))

    def way(self, obj: Way) -> None:
        tags = dict(obj.tags)
        if not self.keep(tags):
            return
        coords = [(nd.lon, nd.lat) for nd in obj.nodes if nd.location.valid()]
        if not coords:
            return
        if obj.is_closed() and len(coords) >= 4:
            self.rings[obj.id] = (tags, coords)
        if self.with_ways:
            geom = shapely.LineString(coords) if len(coords) > 1 else Point(coords[0])
            self.out.ways.append(OsmFeature(osm_id("w", obj.id), tags, geometry=geom))

    def relation(self, obj: Relation) -> None:
        if self.keep(dict(obj.tags)):
            self.relation_ids.add(obj.id)

    def result(self) -> OsmFeatures:
        # A closed way that libosmium could not assemble (e.g. a self-intersecting ring): keep its ring
        # as a polygon; callers repair it with make_valid.
        for way_id in self.failed_ways:
            if way_id in self.rings:
                tags, coords = self.rings[way_id]
                self.out.areas.append(OsmFeature(osm_id("w", way_id), tags, geometry=Polygon(coords)))
        if self.failed_ways or self.failed_relations:
            log.warning(
                "%s: %d closed ways and %d multipolygon relations did not assemble into valid "
                "polygons; the ways are kept as raw rings (repaired later), the relations skipped",
                self.path,
                len(self.failed_ways),
                self.failed_relations,
            )
        self.out.relations_without_area = len(self.relation_ids - self.area_relation_ids)
        return self.out


# --- geometry -----------------------------------------------------------------------------------


def area_geoms(features: list[OsmFeature]) -> np.ndarray:
    """The polygons of area features (from WKB, or the raw ring of a way that did not assemble)."""
    out = np.empty(len(features), dtype=object)
    with_wkb = [i for i, f in enumerate(features) if f.wkb is not None]
    if with_wkb:
        out[with_wkb] = shapely.from_wkb([features[i].wkb for i in with_wkb])
    for i, f in enumerate(features):
        if f.wkb is None:
            out[i] = f.geometry
    return out


def polygons(geom: BaseGeometry | None) -> list[Polygon]:
    """The non-empty polygons inside ``geom`` (any type, nested collections too)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in polygons(g)]
    return []


def clean_polygons(geom: BaseGeometry | None, min_part: float = 0.0) -> BaseGeometry | None:
    """``geom`` made valid and reduced to its polygonal parts (parts with area < ``min_part`` dropped,
    in the units of ``geom``): a Polygon, a MultiPolygon or None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in polygons(geom) if p.area > min_part]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def to_crs(geoms: Iterable[BaseGeometry], src: str, dst: str) -> np.ndarray:
    """``geoms`` converted from CRS ``src`` to ``dst``, as an object array."""
    return np.asarray(gpd.GeoSeries(list(geoms), crs=src).to_crs(dst).values, dtype=object)


def points_in_bbox(points: gpd.GeoSeries | np.ndarray, bbox: BBox | None) -> np.ndarray:
    """Boolean mask: points (shapely Points, WGS84) inside ``bbox`` (edges included); all true for
    ``bbox`` None."""
    pts = np.asarray(points, dtype=object)
    if bbox is None:
        return np.ones(len(pts), dtype=bool)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    x0, y0, x1, y1 = bbox
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
