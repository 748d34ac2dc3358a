"""Outputs of a plan: coverage layers (:mod:`.layers`), the files of ``circles plan --out``
(:mod:`.plan_files`), exports for GIS/CAD (:mod:`.export`: GeoPackage, zipped Shapefile, GeoJSON, DXF,
in the coordinate system asked for, :mod:`.export_crs`) and the coverage map (:mod:`.webmap`,
folium/Leaflet HTML). Everything else written is EPSG:4326; all with the OSM attribution.

The map's ``build_map``, ``render_map`` and ``write_map`` are re-exported lazily: folium is imported
on their first use, not with this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .export import (
    CRS_KEYS,
    EXPORT_SUFFIXES,
    LAYER_ORDER,
    MEDIA_TYPES,
    OutputCrs,
    export,
    export_format,
    export_info,
    export_layers,
    field_description,
    resolve_output_crs,
    safe_export_path,
    shapefile_field_names,
)
from .layers import SIMPLIFY_M, facility_snap, service_area_layer
from .plan_files import coverage_layer, gaps_layer, write_outputs
from .webmap_tiles import TILES, TileSpec, resolve_tiles

if TYPE_CHECKING:  # pragma: no cover
    from .webmap import build_map, render_map, write_map

__all__ = [
    "CRS_KEYS",
    "EXPORT_SUFFIXES",
    "LAYER_ORDER",
    "MEDIA_TYPES",
    "OutputCrs",
    "SIMPLIFY_M",
    "TILES",
    "TileSpec",
    "build_map",
    "coverage_layer",
    "export",
    "export_format",
    "export_info",
    "export_layers",
    "facility_snap",
    "field_description",
    "gaps_layer",
    "render_map",
    "resolve_output_crs",
    "resolve_tiles",
    "safe_export_path",
    "service_area_layer",
    "shapefile_field_names",
    "write_map",
    "write_outputs",
]

#: Names served from :mod:`.webmap` on first access (it imports folium).
_LAZY = {"build_map", "render_map", "write_map"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(".webmap", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
