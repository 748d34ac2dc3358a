"""How the coverage map looks: colours of the covered-share classes, the service-area levels and the
categories, the map panes, the labels of sources, profiles and districts, and small text helpers."""

from __future__ import annotations

import html
import math

from ..io.districts import DISTRICT_EN  # English names of Chengdu's districts, for labels

__all__ = [
    "CATEGORY_COLOURS",
    "DISTRICT_EN",
    "GAP_OUTLINE",
    "LEVEL_COLOURS",
    "MARKER_LABELS",
    "MARKER_SOURCES",
    "NA_COLOUR",
    "OK_OUTLINE",
    "OSM_ATTRIBUTION_HTML",
    "PALETTE",
    "PANE_AREAS",
    "PANE_COMMUNITIES",
    "PANE_CONTEXT",
    "PANE_FACILITIES",
    "PROFILE_ZH",
    "PROPOSED_FILL",
    "SHARE_CLASSES",
    "SIDEBAR_W",
    "SOURCE_LABEL",
    "category_colour",
    "esc",
    "marker_source",
    "marker_style",
    "marker_svg",
    "pct",
    "share_colour",
]

#: The data attribution shown in the map's attribution control (and for OSM tiles).
OSM_ATTRIBUTION_HTML = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'

#: Covered-share classes: (upper bound, colour, label). Red = lacking, green = covered.
SHARE_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.005, "#a50026", "0%"),
    (0.25, "#f46d43", "1–25%"),
    (0.50, "#fdae61", "25–50%"),
    (0.75, "#fee08b", "50–75%"),
    (0.95, "#a6d96a", "75–95%"),
    (1.01, "#1a9850", "≥ 95%"),
)
#: Fill of communities the category does not apply to.
NA_COLOUR = "#bdbdbd"
#: Outline of a gap community (share below target) and of one that meets its target.
GAP_OUTLINE = "#1a1a1a"
OK_OUTLINE = "#ffffff"
#: Service-area colour by level, minutes.
LEVEL_COLOURS = {5: "#08306b", 10: "#2171b5", 15: "#6baed6"}
#: Facility marker colour by category; other categories take :data:`PALETTE` colours in turn.
CATEGORY_COLOURS = {
    "party_service_station": "#6a3d9a",
    "party_service_centre": "#1f4e9c",
    "community_complex": "#8c510a",
    "canteen": "#111111",
    "labourer_harbour": "#c51b7d",
    "park": "#00665e",
    "elderly_care": "#7b3294",
    "kindergarten": "#e7298a",
    "primary_school": "#3f007d",
    "food_market": "#a6611a",
    "clinic": "#0571b0",
    "public_toilet": "#525252",
}
PALETTE = ("#6a3d9a", "#1f4e9c", "#8c510a", "#c51b7d", "#00665e", "#7b3294", "#3f007d", "#0571b0")

#: Map panes, bottom to top: context (streets, districts), service areas, communities, facilities.
PANE_CONTEXT, PANE_AREAS = "circles-context", "circles-areas"
PANE_COMMUNITIES, PANE_FACILITIES = "circles-communities", "circles-facilities"
#: Width of the side panel, CSS pixels.
SIDEBAR_W = 360

SOURCE_LABEL = {
    "osm": "OSM 观测 observed (© OpenStreetMap contributors)",
    "sample": "示例数据 SAMPLE, not observed",
    "user": "用户数据 user-supplied",
    "proposed": "拟建 proposed (scenario, not built)",
}

#: Facility marker kinds, in legend order: observed in OSM, SAMPLE data (not observed), supplied by the
#: user, proposed in a scenario. Every other source is drawn as ``osm`` (observed).
MARKER_SOURCES = ("osm", "sample", "user", "proposed")
#: Legend label of each marker kind (HTML; the SAMPLE label is styled as a warning).
MARKER_LABELS = {
    "osm": "实心 = OSM 观测设施 filled = observed (OSM)",
    "sample": '<span class="sample">空心虚线 = 示例数据 SAMPLE</span>, not observed (hollow, dashed)',
    "user": "实心黑框 = 用户数据 filled, black ring = user-supplied",
    "proposed": "黄心点线黑框 = 拟建 yellow, dotted black ring = proposed",
}
#: Marker radius (CSS px; constant at every zoom) of each kind.
_MARKER_RADIUS_PX = {"osm": 6.0, "sample": 8.0, "user": 7.0, "proposed": 8.0}
#: Fill of a proposed facility.
PROPOSED_FILL = "#ffd400"
PROFILE_ZH = {
    "walk": "步行 walk",
    "bike": "骑行 bike",
    "elderly": "老人步行 elderly walk",
    "wheelchair": "轮椅 wheelchair",
}


def esc(v: object) -> str:
    """``v`` as text safe inside HTML (quotes escaped too)."""
    return html.escape(str(v), quote=True)


def pct(v: float | None) -> str:
    """A share (0..1) as a whole percentage, ``—`` when unknown."""
    return "—" if v is None or not math.isfinite(v) else f"{100 * v:.0f}%"


def share_colour(share: float | None) -> str:
    """Fill colour of a covered share (0..1) by :data:`SHARE_CLASSES`; :data:`NA_COLOUR` when unknown."""
    if share is None or not math.isfinite(share):
        return NA_COLOUR
    for upper, colour, _ in SHARE_CLASSES:
        if share < upper:
            return colour
    return SHARE_CLASSES[-1][1]


def marker_source(source: object) -> str:
    """The marker kind (one of :data:`MARKER_SOURCES`) of a facility ``source``; ``osm`` otherwise."""
    src = str(source or "")
    return src if src in MARKER_SOURCES else "osm"


def marker_style(source: str, colour: str) -> dict[str, object]:
    """Leaflet path options of a facility marker of kind ``source`` in category ``colour``: the one
    definition the map's markers and its legend are both drawn from (radius in CSS px).

    * ``osm`` (observed): filled with the category colour, thin white ring (stands out on any shade);
    * ``sample``: hollow (white), thick dashed ring in the category colour; butt line caps so the
      gaps stay open (round caps close 2 px gaps on a small circle, which then looks solid);
    * ``user``: filled with the category colour, thick black ring;
    * ``proposed``: yellow fill, black dotted ring.
    """
    kind = marker_source(source)
    base: dict[str, object] = {
        "radius": _MARKER_RADIUS_PX[kind],
        "color": "#ffffff",
        "weight": 1.5,
        "opacity": 1.0,
        "fill": True,
        "fillColor": colour,
        "fillOpacity": 1.0,
        "dashArray": None,
        "lineCap": "round",
    }
    if kind == "sample":
        base.update(color=colour, weight=3.0, fillColor="#ffffff", fillOpacity=0.9, dashArray="5 4")
        base.update(lineCap="butt")
    elif kind == "user":
        base.update(color="#000000", weight=3.0)
    elif kind == "proposed":
        base.update(color="#000000", weight=2.5, fillColor=PROPOSED_FILL, dashArray="2 3", lineCap="butt")
    return base


def marker_svg(style: dict[str, object], source: str = "") -> str:
    """A legend swatch: an inline SVG circle drawn with the same options as the marker (``style`` from
    :func:`marker_style`), with the attributes Leaflet's SVG renderer writes for them; ``source`` (the
    marker kind) goes to ``data-src``. The page's script draws swatches the same way on every switch."""

    def num(key: str) -> str:
        return f"{float(str(style[key])):g}"

    r, w = float(str(style["radius"])), float(str(style["weight"]))
    size = f"{2 * (r + w) + 2:g}"
    centre = f"{r + w + 1:g}"
    dash = f' stroke-dasharray="{style["dashArray"]}"' if style.get("dashArray") else ""
    return (
        f'<svg class="marker" data-src="{esc(source)}" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}"><circle cx="{centre}" cy="{centre}" r="{num("radius")}" '
        f'stroke="{style["color"]}" stroke-opacity="{num("opacity")}" stroke-width="{num("weight")}" '
        f'stroke-linecap="{style["lineCap"]}"{dash} fill="{style["fillColor"]}" '
        f'fill-opacity="{num("fillOpacity")}"></circle></svg>'
    )


def category_colour(key: str, i: int) -> str:
    """Marker colour of category ``key``, the ``i``-th drawn."""
    return CATEGORY_COLOURS.get(key, PALETTE[i % len(PALETTE)])
