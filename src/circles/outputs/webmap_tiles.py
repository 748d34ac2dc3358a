"""Base maps for the coverage map: tile URL templates, their attribution and whether their
coordinates are GCJ-02 (高德/腾讯), in which case every vector layer is shifted onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError
from .webmap_style import OSM_ATTRIBUTION_HTML

__all__ = ["TILES", "TileSpec", "resolve_tiles"]


@dataclass(frozen=True)
class TileSpec:
    """A base-map tile layer: URL template, attribution (HTML), name in the layer control, and
    whether its coordinates are GCJ-02 (then every vector layer is shifted onto it)."""

    url: str
    attribution: str
    name: str
    gcj02: bool = False
    subdomains: str = "abc"
    max_zoom: int = 19


#: Named base maps: ``osm`` (WGS84) and ``amap`` (高德, GCJ-02).
TILES: dict[str, TileSpec] = {
    "osm": TileSpec(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        OSM_ATTRIBUTION_HTML,
        "OpenStreetMap 底图 base map",
        gcj02=False,
        max_zoom=19,
    ),
    "amap": TileSpec(
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "底图 base map © 高德地图 AutoNavi (GCJ-02)",
        "高德地图 Amap 底图 base map (GCJ-02)",
        gcj02=True,
        subdomains="1234",
        max_zoom=18,
    ),
}


def resolve_tiles(
    tiles: str | None, tiles_attr: str | None = None, tiles_crs: str = "wgs84"
) -> TileSpec | None:
    """``None``/``'none'`` (no tile layer), ``'osm'``, ``'amap'`` (GCJ-02) or a custom URL template
    with ``{x}``, ``{y}``, ``{z}``; a custom URL needs ``tiles_attr`` and ``tiles_crs`` ('wgs84' or
    'gcj02') says which coordinates its tiles use."""
    if tiles is None or str(tiles).strip().lower() in ("", "none", "off", "no"):
        return None
    key = str(tiles).strip()
    if key.lower() in TILES:
        spec = TILES[key.lower()]
        return (
            spec
            if tiles_attr is None
            else TileSpec(spec.url, tiles_attr, spec.name, spec.gcj02, spec.subdomains, spec.max_zoom)
        )
    if not re.match(r"^https?://", key) or not all(p in key for p in ("{x}", "{y}", "{z}")):
        raise InputError(
            f"unknown tiles {tiles!r}; use none, {', '.join(TILES)} "
            "or a URL template with {x}, {y}, {z}"
        )
    if not tiles_attr:
        raise InputError("a custom tile URL needs an attribution (tiles_attr / --tiles-attr)")
    crs = str(tiles_crs).strip().lower().replace("-", "")
    if crs not in ("wgs84", "gcj02"):
        raise InputError(f"tiles_crs must be 'wgs84' or 'gcj02', not {tiles_crs!r}")
    return TileSpec(key, tiles_attr, "底图 base map", gcj02=crs == "gcj02")
