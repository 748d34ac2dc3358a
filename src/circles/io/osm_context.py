"""The surroundings of candidate sites from an OpenStreetMap extract: streets (every ``highway=*`` way,
with its class and name) and buildings (every ``building=*`` area). The suitability rules use the
streets (interchanges, ramps), the exports draw both around the chosen sites. Tables are in WGS84
(EPSG:4326, degrees).

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._common import WGS84, check_bbox
from . import _osm_objects
from .osm import read_highway_ways

__all__ = ["CONTEXT_BUILDING_COLUMNS", "STREET_COLUMNS", "osm_buildings", "osm_streets"]

log = logging.getLogger(__name__)

#: Columns of :func:`osm_streets` (plus ``geometry``, LineString).
STREET_COLUMNS: tuple[str, ...] = ("street_id", "highway", "name", "layer")
#: Columns of :func:`osm_buildings` (plus ``geometry``, Polygon or MultiPolygon).
CONTEXT_BUILDING_COLUMNS: tuple[str, ...] = ("building_id", "building", "name", "levels")


def osm_streets(osm_path: Path | str, bbox: Iterable[float] | None = None) -> gpd.GeoDataFrame:
    """Every ``highway=*`` way of the file as a line, EPSG:4326: ``street_id`` (``osm:w123``; a way cut
    by a node missing from the extract gives several rows with the same id), ``highway`` (its class),
    ``name`` (``name`` or ``name:zh``, else empty) and ``layer`` (OSM ``layer``, 0 when absent; bridges
    are above 0). With ``bbox`` (WGS84 degrees) only lines that touch it are kept."""
    ways = read_highway_ways(osm_path)
    coords = np.column_stack([ways.lon, ways.lat])
    lines = [shapely.LineString(coords[a:b]) for a, b in zip(ways.offsets[:-1], ways.offsets[1:])]
    frame = pd.DataFrame(
        {
            "street_id": [_osm_objects.osm_id("w", int(i)) for i in ways.way_ids],
            "highway": [t.get("highway", "") for t in ways.tags],
            "name": [t.get("name") or t.get("name:zh") or "" for t in ways.tags],
            "layer": [_layer(t.get("layer")) for t in ways.tags],
        },
        columns=list(STREET_COLUMNS),
    )
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs=WGS84), crs=WGS84)
    box = check_bbox(bbox)
    if box is not None and len(gdf):
        gdf = gdf[gdf.intersects(shapely.box(*box))].reset_index(drop=True)
    return gdf


def osm_buildings(osm_path: Path | str, bbox: Iterable[float] | None = None) -> gpd.GeoDataFrame:
    """Every ``building=*`` area of the file (closed ways and multipolygons; repaired with
    ``make_valid``), EPSG:4326: ``building_id`` (``osm:w123``), ``building`` (the tag value), ``name``
    and ``levels`` (``building:levels``, NaN when absent). With ``bbox`` (WGS84 degrees) only those
    that touch it are kept."""
    areas = _osm_objects.read_features(Path(osm_path), lambda t: "building" in t).areas
    rows, geoms = [], []
    for f, g in zip(areas, _osm_objects.area_geoms(areas) if areas else []):
        poly = _osm_objects.clean_polygons(g)
        if poly is None:
            continue
        rows.append(
            {
                "building_id": f.osm_id,
                "building": f.tags.get("building", ""),
                "name": f.tags.get("name") or f.tags.get("name:zh") or "",
                "levels": _levels(f.tags.get("building:levels")),
            }
        )
        geoms.append(poly)
    frame = pd.DataFrame(rows, columns=list(CONTEXT_BUILDING_COLUMNS)).astype({"levels": "float64"})
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    box = check_bbox(bbox)
    if box is not None and len(gdf):
        gdf = gdf[gdf.intersects(shapely.box(*box))].reset_index(drop=True)
    log.info("%s: %d buildings", osm_path, len(gdf))
    return gdf


def _layer(value: str | None) -> int:
    try:
        return int(str(value).split(";")[0]) if value is not None else 0
    except ValueError:
        return 0


def _levels(value: str | None) -> float:
    try:
        return float(str(value).split(";")[0]) if value is not None else np.nan
    except ValueError:
        return np.nan
