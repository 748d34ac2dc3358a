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
    "NA_COLOUR",
    "OK_OUTLINE",
    "OSM_ATTRIBUTION_HTML",
    "PALETTE",
    "PANE_AREAS",
    "PANE_COMMUNITIES",
    "PANE_CONTEXT",
    "PANE_FACILITIES",
    "PROFILE_ZH",
    "SHARE_CLASSES",
    "SIDEBAR_W",
    "SOURCE_LABEL",
    "category_colour",
    "esc",
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
}
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


def category_colour(key: str, i: int) -> str:
    """Marker colour of category ``key``, the ``i``-th drawn."""
    return CATEGORY_COLOURS.get(key, PALETTE[i % len(PALETTE)])
