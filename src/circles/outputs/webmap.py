"""Coverage maps for urban planners: one self-contained HTML page (folium/Leaflet) per region.

The page shows ONE facility category and ONE walking time (5, 10 or 15 minutes) at a time, chosen
with radio buttons in the side panel (not a list of checkboxes: two categories' shares never stack):

* the category's service area within the chosen time (the street network's reach);
* its facilities as circle markers with a popup: filled = observed in OSM, hollow dashed = SAMPLE
  data, black ring = user-supplied, yellow = proposed; the legend's swatches are drawn from the
  same style definitions (:func:`~.webmap_style.marker_style`), so they cannot diverge;
* the communities shaded by the share of their residents (or residential area) that reach the
  category within the chosen time, the gaps (share below target) outlined black; tooltips give
  name, district, residents (counted or census estimate), shares at 5/10/15 minutes and the nearest
  facility.

The headline ("n of N communities lack it within 10 minutes", share covered, residents of the gap
communities) follows the chosen category, time and area; a district (区) / 街道 filter dims the other
communities and a table gives the figures per district. The state is kept in the address
(``#cat=park&min=15&district=成华区``) so a view can be shared.

Print layout: printing (or ``#print=a4`` / ``#print=a3`` in the address, which
:mod:`.print_render` uses for ``circles map --pdf``/``--png``) hides the side panel, the zoom and
layer controls, and frames the map with a title, legend, north arrow, scale, data sources,
sample-data note and date on an A4/A3 landscape page.

The page works offline: Leaflet 1.9.4 (``circles/static/leaflet``, BSD-2-Clause) and the page's own
script and stylesheet (``static/circles_map.js``, ``.css``) are inlined, no CDN is referenced, and
without ``tiles`` no tile layer is drawn at all (the street network stands in for a base map). With
``tiles='amap'`` (高德, GCJ-02) every vector layer is shifted from WGS84 to GCJ-02 before it is drawn,
so it sits on the base map instead of ~300 m off.

The pieces: :mod:`.webmap_layers` (the map's data: communities, coverage columns, areas,
facilities; the folium context overlays), :mod:`.webmap_html` (side panel, legend, headline, print
frame, inlined assets), :mod:`.webmap_style` (colours, marker styles, labels), :mod:`.webmap_tiles`
(base maps).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import folium
import numpy as np
from branca.element import Element, Figure

from .._common import atomic_write_text
from ..catalog import LEVELS_MIN
from ..errors import InputError
from ..io.coords import wgs84_to_gcj02
from ..measures import DISTANCE_SUFFIX
from .layers import service_area_layer
from .plan_files import level_walk_m
from .webmap_html import (
    AfterLayers,
    data_script,
    headline_text,
    leaflet_assets,
    page_assets,
    print_frame_html,
    sidebar_html,
    unescape_non_ascii,
)
from .webmap_layers import (
    DISTRICTS_LAYER,
    STREETS_LAYER,
    Projector,
    area_features,
    community_features,
    community_geometries,
    community_info,
    coverage_columns,
    district_layer,
    facility_features,
    projector,
    street_layer,
)
from .webmap_style import (
    GAP_OUTLINE,
    LEVEL_COLOURS,
    MARKER_SOURCES,
    NA_COLOUR,
    OK_OUTLINE,
    OSM_ATTRIBUTION_HTML,
    PANE_AREAS,
    PANE_COMMUNITIES,
    PANE_CONTEXT,
    PANE_FACILITIES,
    SHARE_CLASSES,
    category_colour,
    esc,
    marker_style,
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
    "level_reach",
    "map_data",
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

    ``category``: one key or a list of keys (the first is shown when the map opens); ``None`` offers
    every planned category and shows ``canteen`` (else the first focus category). Unknown keys raise
    :class:`~circles.errors.UnknownCategoryError`. ``tiles``: ``None`` (no tile layer; works
    offline), ``'osm'``, ``'amap'`` (高德, GCJ-02: all vector layers are shifted to GCJ-02) or a URL
    template (then ``tiles_attr`` is required and ``tiles_crs`` says 'wgs84' or 'gcj02').
    ``minutes`` (5, 10 or 15) is the level whose covered share shades the communities when the map
    opens; the page switches category and level itself (from the data in ``#circles-data``).
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
    data = map_data(result, cats, minutes, project)
    data["bounds"] = [[by0, bx0], [by1, bx1]]  # the view on opening, unless the address sets one
    _add_page(m, result, data, tile)
    if tile is not None:
        _tile_layer(tile).add_to(m)
    for pane, z, events in _PANES:
        folium.map.CustomPane(pane, z_index=z, pointer_events=events).add_to(m)
    street_layer(result, project, show=tile is None).add_to(m)
    districts = district_layer(result, project, show=True)
    if districts is not None:
        districts.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(AfterLayers(OSM_ATTRIBUTION_HTML))  # the page's script sets the view (data["bounds"])
    return m


def map_data(result: PlanResult, cats: list[Category], minutes: int, project: Projector) -> dict[str, Any]:
    """Everything the page's script draws, as JSON-ready values: the categories ``cats`` (the first
    is shown on opening; offered in catalog order) with their coverage columns, service areas per
    level, facilities and marker styles; the communities (outlines once, names, districts,
    residents); the level shown on opening (``minutes``); panes, colours and headline texts; the
    plan's ``measure`` and, for a distance plan, ``reach``: each level named by its network walking
    distance (``{"5": "300 m", "10": "500 m", "15": "1000 m"}``; null for a time plan, whose levels are
    minutes). Geometries in display coordinates (``project``)."""
    order = {key: i for i, key in enumerate(result.data.catalog.keys())}
    listed = sorted(cats, key=lambda c: order.get(c.key, len(order)))
    style = {
        "shareClasses": [list(c) for c in SHARE_CLASSES],
        "na": NA_COLOUR,
        "gapOutline": GAP_OUTLINE,
        "okOutline": OK_OUTLINE,
        "levels": {str(lv): c for lv, c in LEVEL_COLOURS.items()},
    }
    return {
        "cat": cats[0].key,
        "minutes": minutes,
        "levels": list(LEVELS_MIN),
        "weightKind": result.data.weight_kind,
        "measure": result.data.measure,
        "reach": level_reach(result),
        "panes": {"areas": PANE_AREAS, "communities": PANE_COMMUNITIES, "facilities": PANE_FACILITIES},
        "style": style,
        "text": headline_text(result.data.measure),
        "communities": community_features(community_geometries(result, project)),
        "comm": community_info(result),
        "cats": [_category_data(result, cat, listed.index(cat), project) for cat in listed],
    }


def _category_data(result: PlanResult, cat: Category, i: int, project: Projector) -> dict[str, Any]:
    """One category of :func:`map_data`: names, colour, marker styles per marker kind (the one
    definition legend and markers share), facility counts, coverage columns, service areas, facilities."""
    colour = category_colour(cat.key, i)
    fac = result.data.facilities
    own = fac[fac["category"] == cat.key]
    metres = _area_metres(result)
    if metres is None:
        areas = service_area_layer(result, cat.key, LEVELS_MIN)
    else:  # searched on the walk profile's 1 m/s twin: its "minutes" are metres / 60
        at = [metres[lv] / 60.0 for lv in LEVELS_MIN]
        areas = service_area_layer(result, cat.key, at, profile="walk" + DISTANCE_SUFFIX)
    return {
        "key": cat.key,
        "zh": cat.name_zh,
        "en": cat.name_en,
        "colour": colour,
        "markers": {src: marker_style(src, colour) for src in MARKER_SOURCES},
        "nFac": len(own),
        "nSample": int((own["source"] == "sample").sum()),
        **coverage_columns(result, cat.key),
        "areas": {
            str(lv): area_features(areas, lv, project, walk_m=None if metres is None else metres[lv])
            for lv in LEVELS_MIN
        },
        "facilities": facility_features(fac, cat, project),
    }


def level_reach(result: PlanResult) -> dict[str, str] | None:
    """A distance plan's levels named by their network walking distance (``{"5": "300 m", ...}``, the
    catalog's ``[[level]]`` metres); None for a time plan (its levels are minutes)."""
    metres = level_walk_m(result)
    if metres is None or not all(lv in metres for lv in LEVELS_MIN):
        return None
    return {str(lv): f"{metres[lv]:g} m" for lv in LEVELS_MIN}


def _area_metres(result: PlanResult) -> dict[int, float] | None:
    """The metres each level's service area is drawn at in a distance plan whose walking communities
    are searched on the distance twin (every level has a distance); None: drawn in minutes."""
    metres = level_walk_m(result)
    if metres is None or "walk" + DISTANCE_SUFFIX not in result.data.graphs:
        return None
    return metres if all(lv in metres for lv in LEVELS_MIN) else None


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


def _add_page(m: folium.Map, result: PlanResult, data: dict[str, Any], tile: TileSpec | None) -> None:
    """The page around the map: title, Leaflet and the page's script inlined (nothing from CDNs),
    stylesheets, side panel, print frame and the map's data."""
    m.default_js, m.default_css = [], []  # nothing from CDNs: Leaflet is inlined below
    root = cast(Figure, m.get_root())
    region = result.data.region
    shown = data["cats"][[c["key"] for c in data["cats"]].index(data["cat"])]
    root.title = esc(f"{region.name_zh} 15分钟社区生活圈覆盖图 coverage map — {shown['zh']} {shown['en']}")
    js, css = leaflet_assets()
    page_js, page_css = page_assets()
    root.header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"), name="leaflet_inline")
    root.header.add_child(
        Element(f"<style>{page_css}</style>\n<script>{page_js}</script>"), name="circles_page"
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    root.html.add_child(Element(sidebar_html(result, data, tile, generated)), name="circles_sidebar")
    root.html.add_child(Element(print_frame_html(result, data, generated)), name="circles_print")
    root.html.add_child(Element(data_script(data)), name="circles_data")


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
