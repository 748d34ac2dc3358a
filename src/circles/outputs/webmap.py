"""Coverage maps for urban planners: one self-contained HTML page (folium/Leaflet) per region.

What the page shows, per facility category (or just the chosen ones):

* the area within 5, 10 and 15 minutes on foot of the category's facilities (one overlay per level);
* the facilities as circle markers with a popup (name, category, source; SAMPLE data marked as such);
* the communities shaded by the share of their residents (or residential area) that reach the
  category within ``minutes`` (default 10), with the gap communities (share below the category's
  target share) outlined; tooltips give name, residents or the area weighting, shares at 5/10/15
  minutes, the nearest facility and the time to it.

Only one category (``category``, else ``canteen``, else the first focus category) is switched on
when the page opens; the others are listed, unchecked, in the layer control. A side panel holds the
title (region, data year), a one-line answer for the shown category ("n of N communities lack it
within 10 minutes"), the legend, the layer control and the notes (weighting, sample data).

The page works offline: Leaflet 1.9.4 (``circles/static/leaflet``, BSD-2-Clause) is inlined, no CDN
is referenced, and without ``tiles`` no tile layer is drawn at all (the vector layers on a plain
background). With ``tiles='amap'`` (高德, GCJ-02) every vector layer is shifted from WGS84 to
GCJ-02 before it is drawn, so it sits on the base map instead of ~300 m off.

The pieces: :mod:`.webmap_layers` (the folium overlays), :mod:`.webmap_html` (side panel, legend,
stylesheet, inlined Leaflet), :mod:`.webmap_style` (colours, labels), :mod:`.webmap_tiles` (base maps).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import folium
import numpy as np
from branca.element import Element, Figure

from .._common import atomic_write_text
from ..catalog import LEVELS_MIN
from ..errors import InputError
from ..io.coords import wgs84_to_gcj02
from .layers import service_area_layer
from .webmap_html import CSS_TEMPLATE, AfterLayers, leaflet_assets, sidebar_html, unescape_non_ascii
from .webmap_layers import (
    DISTRICTS_LAYER,
    STREETS_LAYER,
    Projector,
    area_layer,
    community_geometries,
    community_layer,
    district_layer,
    facility_layer,
    projector,
    street_layer,
)
from .webmap_style import (
    OSM_ATTRIBUTION_HTML,
    PANE_AREAS,
    PANE_COMMUNITIES,
    PANE_CONTEXT,
    PANE_FACILITIES,
    SIDEBAR_W,
    category_colour,
    esc,
)
from .webmap_tiles import TILES, TileSpec, resolve_tiles

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Category
    from ..pipeline import PlanResult

__all__ = [
    "DEFAULT_CATEGORY",
    "DEFAULT_SHADE_MINUTES",
    "DISTRICTS_LAYER",
    "LEVELS_MIN",
    "STREETS_LAYER",
    "TILES",
    "TileSpec",
    "build_map",
    "layer_names",
    "render_map",
    "resolve_tiles",
    "write_map",
]

#: Level (minutes) whose covered share shades the communities unless ``minutes`` is given: the
#: 10-minute community level (10 分钟社区级). One of :data:`~circles.catalog.LEVELS_MIN`.
DEFAULT_SHADE_MINUTES = 10
#: Category switched on when the map opens unless ``category`` names one (community canteens, plan
#: item 39); the first focus category when the plan has no canteens.
DEFAULT_CATEGORY = "canteen"
#: Map panes (name, z-index, takes pointer events), bottom to top.
_PANES = (
    (PANE_CONTEXT, 402, False),
    (PANE_AREAS, 405, False),
    (PANE_COMMUNITIES, 410, True),
    (PANE_FACILITIES, 420, True),
)


def _categories(result: PlanResult, category: str | Sequence[str] | None) -> list[Category]:
    """Catalog entries to draw, the shown one first. Unknown keys raise UnknownCategoryError."""
    catalog = result.data.catalog
    planned = list(dict.fromkeys(result.coverage["category"].astype(str)))
    if category is None:
        cats = [c for c in catalog.values() if c.key in planned]
        if not cats:
            raise InputError("the plan has no coverage to map")
        keys = [c.key for c in cats]
        first = (
            DEFAULT_CATEGORY if DEFAULT_CATEGORY in keys else next((c.key for c in cats if c.focus), keys[0])
        )
        return [catalog.get(first)] + [c for c in cats if c.key != first]
    keys = [category] if isinstance(category, str) else list(category)
    if not keys:
        return _categories(result, None)
    cats = []
    for key in dict.fromkeys(keys):
        cat = catalog.get(key)  # UnknownCategoryError lists the known keys
        if key not in planned:
            raise InputError(f"category {key!r} was not planned (planned: {', '.join(planned)})")
        cats.append(cat)
    return cats


def layer_names(cat: Category, minutes: int = DEFAULT_SHADE_MINUTES) -> dict[str, str]:
    """Names (as listed in the layer control) of a category's overlays: ``area_5``, ``area_10``,
    ``area_15``, ``facilities``, ``communities``."""
    head = f"{cat.name_zh} {cat.name_en}"
    names = {f"area_{lv}": f"{head} · {lv}分钟步行范围 {lv}-min walk area" for lv in LEVELS_MIN}
    names["facilities"] = f"{head} · 设施 facilities"
    names["communities"] = f"{head} · 社区{minutes}分钟覆盖率与缺口 community share and gaps ({minutes} min)"
    return names


def build_map(
    result: PlanResult,
    *,
    category: str | Sequence[str] | None = None,
    tiles: str | None = None,
    minutes: int = DEFAULT_SHADE_MINUTES,
    tiles_attr: str | None = None,
    tiles_crs: str = "wgs84",
) -> folium.Map:
    """The coverage map of a plan as a :class:`folium.Map`.

    ``category``: one key or a list of keys (the first is shown when the map opens); ``None`` draws
    every planned category and shows ``canteen`` (else the first focus category). Unknown keys raise
    :class:`~circles.errors.UnknownCategoryError`. ``tiles``: ``None`` (no tile layer; works
    offline), ``'osm'``, ``'amap'`` (高德, GCJ-02: all vector layers are shifted to GCJ-02) or a URL
    template (then ``tiles_attr`` is required and ``tiles_crs`` says 'wgs84' or 'gcj02').
    ``minutes`` (5, 10 or 15) is the level whose covered share shades the communities.
    """
    if minutes not in LEVELS_MIN:
        raise InputError(f"minutes must be one of {', '.join(map(str, LEVELS_MIN))}, not {minutes!r}")
    cats = _categories(result, category)
    tile = resolve_tiles(tiles, tiles_attr, tiles_crs)
    gcj02 = bool(tile and tile.gcj02)
    project = projector(gcj02)
    (bx0, by0), (bx1, by1) = _display_bounds(result, gcj02)

    m = folium.Map(
        location=[(by0 + by1) / 2, (bx0 + bx1) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
        prefer_canvas=False,
        font_size="13px",
    )
    _add_page(m, result, cats, minutes, tile)
    if tile is not None:
        _tile_layer(tile).add_to(m)
    for pane, z, events in _PANES:
        folium.map.CustomPane(pane, z_index=z, pointer_events=events).add_to(m)

    comm_geoms = community_geometries(result, project)
    for i, cat in enumerate(cats):
        _add_category(m, result, cat, i, minutes, comm_geoms, project)

    street_layer(result, project, show=tile is None).add_to(m)
    districts = district_layer(result, project, show=True)
    if districts is not None:
        districts.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(AfterLayers(OSM_ATTRIBUTION_HTML))
    m.fit_bounds([[by0, bx0], [by1, bx1]], padding=(12, 12))
    return m


def _display_bounds(result: PlanResult, gcj02: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """((min_x, min_y), (max_x, max_y)) of the communities (else the region's bbox) in display
    coordinates: WGS84 degrees, or GCJ-02 when ``gcj02``."""
    data = result.data
    x0, y0, x1, y1 = data.communities.total_bounds if len(data.communities) else data.region.bbox
    x, y = np.array([x0, x1]), np.array([y0, y1])
    if gcj02:
        x, y = wgs84_to_gcj02(x, y)
    (bx0, bx1), (by0, by1) = np.asarray(x), np.asarray(y)
    return (bx0, by0), (bx1, by1)


def _add_page(
    m: folium.Map, result: PlanResult, cats: list[Category], minutes: int, tile: TileSpec | None
) -> None:
    """The page around the map: title, Leaflet inlined (nothing from CDNs), stylesheet, side panel."""
    m.default_js, m.default_css = [], []  # nothing from CDNs: Leaflet is inlined below
    root = cast(Figure, m.get_root())
    region = result.data.region
    root.title = esc(
        f"{region.name_zh} 15分钟社区生活圈覆盖图 coverage map — {cats[0].name_zh} {cats[0].name_en}"
    )
    js, css = leaflet_assets()
    root.header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"), name="leaflet_inline")
    root.header.add_child(
        Element(f"<style>{CSS_TEMPLATE % {'map': m.get_name(), 'w': SIDEBAR_W}}</style>"), name="circles_css"
    )
    root.html.add_child(Element(sidebar_html(result, cats, minutes, tile)), name="circles_sidebar")


def _tile_layer(tile: TileSpec) -> folium.TileLayer:
    return folium.TileLayer(
        tiles=tile.url,
        attr=tile.attribution,
        name=tile.name,
        subdomains=tile.subdomains,
        max_zoom=tile.max_zoom,
        max_native_zoom=tile.max_zoom,
        overlay=False,
        control=True,
    )


def _add_category(
    m: folium.Map,
    result: PlanResult,
    cat: Category,
    i: int,
    minutes: int,
    comm_geoms: np.ndarray,
    project: Projector,
) -> None:
    """The overlays of the ``i``-th category: its service areas (largest first), the communities
    shaded by its share, its facilities; switched on for the first category only."""
    names = layer_names(cat, minutes)
    shown = i == 0
    areas = service_area_layer(result, cat.key, LEVELS_MIN)
    for lv in sorted(LEVELS_MIN, reverse=True):
        area_layer(areas, lv, project, name=names[f"area_{lv}"], show=shown and lv == minutes).add_to(m)
    community_layer(
        result, cat, minutes, comm_geoms, result.data.weight_kind, name=names["communities"], show=shown
    ).add_to(m)
    facility_layer(
        result.data.facilities,
        cat,
        category_colour(cat.key, i),
        project,
        name=names["facilities"],
        show=shown,
    ).add_to(m)


def write_map(
    result: PlanResult,
    path: str | os.PathLike[str],
    *,
    category: str | Sequence[str] | None = None,
    tiles: str | None = None,
    minutes: int = DEFAULT_SHADE_MINUTES,
    tiles_attr: str | None = None,
    tiles_crs: str = "wgs84",
) -> Path:
    """Build the map (see :func:`build_map`) and write it as one self-contained HTML file, atomically
    (parent folders are created). Returns the path."""
    page = render_map(
        result, category=category, tiles=tiles, minutes=minutes, tiles_attr=tiles_attr, tiles_crs=tiles_crs
    )
    return atomic_write_text(Path(path), page)


def render_map(
    result: PlanResult,
    *,
    category: str | Sequence[str] | None = None,
    tiles: str | None = None,
    minutes: int = DEFAULT_SHADE_MINUTES,
    tiles_attr: str | None = None,
    tiles_crs: str = "wgs84",
) -> str:
    """The map's HTML page as a string (arguments as for :func:`build_map`); for serving it from the
    API without a file. Non-ASCII characters that folium writes as ``\\uXXXX`` escapes are written as
    UTF-8 instead (half the bytes for Chinese text, and the page stays greppable)."""
    m = build_map(
        result, category=category, tiles=tiles, minutes=minutes, tiles_attr=tiles_attr, tiles_crs=tiles_crs
    )
    return unescape_non_ascii(m.get_root().render())
