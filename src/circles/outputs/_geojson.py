"""GeoJSON text of the files this package writes: one encoder for the plan files and the exports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from .._common import atomic_write_text, json_default


def geojson_text(gdf: gpd.GeoDataFrame, members: Mapping[str, Any]) -> str:
    """``gdf`` as an RFC 7946 FeatureCollection (coordinates in EPSG:4326, no ``crs`` member, no ids
    and bbox): ``type``, then the foreign ``members`` in their order, then ``features``. Missing values
    are ``null``; non-ASCII text is written as UTF-8. Infinite floats are written as they come
    (``Infinity``): callers that need strict JSON replace them first."""
    fc = json.loads(gdf.to_json(na="null", show_bbox=False, drop_id=True, to_wgs84=True))
    doc = {"type": "FeatureCollection", **members, "features": fc["features"]}
    return json.dumps(doc, ensure_ascii=False, default=json_default)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path, members: Mapping[str, Any]) -> Path:
    """Write :func:`geojson_text` of ``gdf`` to ``path`` atomically (UTF-8). Returns the path."""
    return atomic_write_text(path, geojson_text(gdf, members))
