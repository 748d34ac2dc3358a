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
"""

from __future__ import annotations

import base64
import html
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.utilities import JsCode
from jinja2 import Template
from shapely.geometry import mapping

from .. import OSM_ATTRIBUTION, __version__
from ..errors import InputError
from ..io.coords import wgs84_to_gcj02
from ..pipeline import PlanResult

__all__ = [
    "DEFAULT_CATEGORY",
    "DEFAULT_MINUTES",
    "LEVELS_MIN",
    "TILES",
    "TileSpec",
    "build_map",
    "layer_names",
    "resolve_tiles",
    "write_map",
]

#: Service-circle levels drawn as service areas, minutes.
LEVELS_MIN: tuple[int, ...] = (5, 10, 15)
#: Level (minutes) whose covered share shades the communities unless ``minutes`` is given: the
#: 10-minute community level (10 分钟社区级).
DEFAULT_MINUTES = 10
#: Category switched on when the map opens unless ``category`` names one (community canteens, plan
#: item 39); the first focus category when the plan has no canteens.
DEFAULT_CATEGORY = "canteen"
#: Coordinates are written with this many decimals (~0.1 m).
COORD_DECIMALS = 6
#: Community outlines are simplified by this many metres for display.
COMMUNITY_SIMPLIFY_M = 2.0
#: The street context layer is simplified by this many metres.
STREET_SIMPLIFY_M = 5.0
#: Context overlays (drawn under the coverage layers; the streets stand in for a base map offline).
STREETS_LAYER = "街道网络 Street network (OSM)"
DISTRICTS_LAYER = "区界 District boundaries"
_DISTRICT_EN = {
    "锦江区": "Jinjiang",
    "青羊区": "Qingyang",
    "金牛区": "Jinniu",
    "武侯区": "Wuhou",
    "成华区": "Chenghua",
    "龙泉驿区": "Longquanyi",
    "青白江区": "Qingbaijiang",
    "新都区": "Xindu",
    "温江区": "Wenjiang",
    "双流区": "Shuangliu",
    "郫都区": "Pidu",
    "新津区": "Xinjin",
    "金堂县": "Jintang",
    "大邑县": "Dayi",
    "蒲江县": "Pujiang",
    "都江堰市": "Dujiangyan",
    "彭州市": "Pengzhou",
    "邛崃市": "Qionglai",
    "崇州市": "Chongzhou",
    "简阳市": "Jianyang",
    "高新区": "Hi-tech Zone",
    "天府新区": "Tianfu New Area",
}

STATIC_DIR = Path(__file__).resolve().parent / "static" / "leaflet"

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
NA_COLOUR = "#bdbdbd"
GAP_OUTLINE = "#1a1a1a"
OK_OUTLINE = "#ffffff"
LEVEL_COLOURS = {5: "#08306b", 10: "#2171b5", 15: "#6baed6"}
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
_PALETTE = ("#6a3d9a", "#1f4e9c", "#8c510a", "#c51b7d", "#00665e", "#7b3294", "#3f007d", "#0571b0")

_PANE_CONTEXT, _PANE_AREAS = "circles-context", "circles-areas"
_PANE_COMMUNITIES, _PANE_FACILITIES = "circles-communities", "circles-facilities"
_SIDEBAR_W = 360
_SOURCE_LABEL = {
    "osm": "OSM 观测 observed (© OpenStreetMap contributors)",
    "sample": "示例数据 SAMPLE, not observed",
    "user": "用户数据 user-supplied",
}
_PROFILE_ZH = {
    "walk": "步行 walk",
    "bike": "骑行 bike",
    "elderly": "老人步行 elderly walk",
    "wheelchair": "轮椅 wheelchair",
}


# --------------------------------------------------------------------------------------------- tiles
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
            f"unknown tiles {tiles!r}; use none, {', '.join(TILES)} or a URL template with {{x}}, {{y}}, {{z}}"
        )
    if not tiles_attr:
        raise InputError("a custom tile URL needs an attribution (tiles_attr / --tiles-attr)")
    crs = str(tiles_crs).strip().lower().replace("-", "")
    if crs not in ("wgs84", "gcj02"):
        raise InputError(f"tiles_crs must be 'wgs84' or 'gcj02', not {tiles_crs!r}")
    return TileSpec(key, tiles_attr, "底图 base map", gcj02=crs == "gcj02")


# ------------------------------------------------------------------------------------------ helpers
def _esc(v: object) -> str:
    return html.escape(str(v), quote=True)


def _pct(v: float) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{100 * v:.0f}%"


def _share_colour(share: float) -> str:
    if share is None or not np.isfinite(share):
        return NA_COLOUR
    for upper, colour, _ in SHARE_CLASSES:
        if share < upper:
            return colour
    return SHARE_CLASSES[-1][1]


def _category_colour(key: str, i: int) -> str:
    return CATEGORY_COLOURS.get(key, _PALETTE[i % len(_PALETTE)])


def _projector(gcj02: bool):
    """Geometry array -> display coordinates (GCJ-02 when asked), rounded to COORD_DECIMALS."""

    def fn(xy: np.ndarray) -> np.ndarray:
        if gcj02 and len(xy):
            x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            xy = np.column_stack([x, y])
        return np.round(xy, COORD_DECIMALS)

    return lambda geoms: shapely.transform(np.asarray(geoms, dtype=object), fn)


def _fc(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _feature(fid: str, geom, props: dict) -> dict:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": mapping(geom)}


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS, the CSS's images inlined as data URIs."""
    try:
        js = (STATIC_DIR / "leaflet.js").read_text(encoding="utf-8")
        css = (STATIC_DIR / "leaflet.css").read_text(encoding="utf-8")
    except FileNotFoundError as e:  # pragma: no cover - packaging error
        raise InputError(f"Leaflet assets missing ({e.filename}); reinstall circles") from e

    def data_uri(m: re.Match) -> str:
        img = STATIC_DIR / m.group(1)
        if not img.exists():
            return m.group(0)
        return f"url(data:image/png;base64,{base64.b64encode(img.read_bytes()).decode('ascii')})"

    css = re.sub(r"url\((images/[a-z0-9\-]+\.png)\)", data_uri, css)
    return js.replace("</script", "<\\/script"), css


def _data_year(region) -> int | None:
    year = getattr(region, "data_year", None)
    if year:
        return int(year)
    try:  # regions.toml carries data_year even when Region does not
        from ..config import _read_toml, project_data_dir

        year = _read_toml(project_data_dir() / "regions.toml").get(region.key, {}).get("data_year")
        if year:
            return int(year)
    except Exception:
        pass
    m = re.search(r"(19|20)\d\d", getattr(region, "source", "") or "")
    return int(m.group(0)) if m else None


def _categories(result: PlanResult, category: str | Sequence[str] | None) -> list:
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


def layer_names(cat, minutes: int = DEFAULT_MINUTES) -> dict[str, str]:
    """Names (as listed in the layer control) of a category's overlays: ``area_5``, ``area_10``,
    ``area_15``, ``facilities``, ``communities``."""
    head = f"{cat.name_zh} {cat.name_en}"
    names = {f"area_{lv}": f"{head} · {lv}分钟步行范围 {lv}-min walk area" for lv in LEVELS_MIN}
    names["facilities"] = f"{head} · 设施 facilities"
    names["communities"] = f"{head} · 社区{minutes}分钟覆盖率与缺口 community share and gaps ({minutes} min)"
    return names


# ------------------------------------------------------------------------------------------- layers
def _community_table(result: PlanResult, key: str, minutes: int) -> pd.DataFrame:
    """One row per community: share within ``minutes``, shares at every level, threshold share,
    target, gap flags, nearest facility and time."""
    comm = result.data.communities
    cov = result.coverage
    g = cov[cov["category"] == key].set_index("community_row").reindex(np.arange(len(comm)))
    applies = g["applies"].fillna(False).astype(bool).to_numpy()
    out = pd.DataFrame({"applies": applies}, index=np.arange(len(comm)))
    for lv in LEVELS_MIN:
        out[f"share_{lv}"] = np.where(applies, g[f"share_{lv}"].to_numpy(dtype=float), np.nan)
    out["share"] = out[f"share_{minutes}"]
    out["covered_share"] = np.where(applies, g["covered_share"].to_numpy(dtype=float), np.nan)
    out["target"] = g["target_share"].to_numpy(dtype=float)
    out["threshold_min"] = g["threshold_min"].to_numpy(dtype=float)
    out["profile"] = g["profile"].fillna("walk").astype(str).to_numpy()
    out["weight"] = g["total_weight"].to_numpy(dtype=float)
    out["gap"] = applies & (out["share"].to_numpy() < out["target"].to_numpy() - 1e-9)
    listed = set()
    gaps = result.gaps
    if len(gaps):
        sel = gaps[(gaps["kind"] == "coverage") & (gaps["category"] == key)]
        listed = set(sel["community_id"].astype(str))
    out["listed_gap"] = comm["community_id"].astype(str).isin(listed).to_numpy()
    out["nearest_s"] = g["nearest_time_s"].to_numpy(dtype=float)
    out["nearest_m"] = g["nearest_walk_m"].to_numpy(dtype=float)
    out["nearest_name"] = g["nearest_facility_name"].fillna("").astype(str).to_numpy()
    out["nearest_source"] = g["nearest_facility_source"].fillna("").astype(str).to_numpy()
    return out


def _community_tip(row, t, cat, minutes: int, weight_kind: str) -> str:
    name = _esc(row["name"] or "(未命名 unnamed)")
    district = f" · {_esc(row['district'])}" if row.get("district") else ""
    res = row.get("residents")
    area_ha = float(row["area_m2"]) / 1e4
    if weight_kind != "area" and res is not None and np.isfinite(res):
        who = f"居民 Residents: {res:,.0f}"
    else:
        who = f"居民 Residents: 未知 unknown — 按面积加权 area-weighted ({area_ha:.1f} ha)"
    prof = _PROFILE_ZH.get(t.profile, t.profile)
    if not t.applies:
        status = "不适用 not required for this community type"
    elif t.gap:
        status = f'<b style="color:#a50026">缺口 GAP</b> — {minutes}分钟内覆盖 covered within {minutes} min: <b>{_pct(t.share)}</b>'
    else:
        status = f'<b style="color:#1a9850">已覆盖 covered</b> — {minutes}分钟内 within {minutes} min: <b>{_pct(t.share)}</b>'
    levels = " / ".join(_pct(getattr(t, f"share_{lv}")) for lv in LEVELS_MIN)
    if np.isfinite(t.nearest_s):
        src = " <b>[示例 SAMPLE]</b>" if t.nearest_source == "sample" else ""
        near = (
            f"最近 Nearest: {_esc(t.nearest_name or '(未命名 unnamed)')}{src}, "
            f"{t.nearest_s / 60:.1f} 分钟 min ({t.nearest_m:,.0f} m)"
        )
    else:
        near = "最近 Nearest: 不可达 none reachable"
    thr = (
        ""
        if not np.isfinite(t.threshold_min)
        else (
            f"<br>规划阈值 planning threshold {t.threshold_min:g} min: {_pct(t.covered_share)} "
            f"(目标 target {_pct(t.target)}){' — 列入缺口清单 in gap list' if t.listed_gap else ''}"
        )
    )
    return (
        f"<b>{name}</b>{district}<br>{who}<br>{_esc(cat.name_zh)} {_esc(cat.name_en)} ({prof}): {status}"
        f"<br>5 / 10 / 15 分钟 min: {levels}{thr}<br>{near}"
    )


def _community_layer(result, cat, minutes, comm_geoms, weight_kind, *, name, show) -> folium.GeoJson:
    comm = result.data.communities
    tab = _community_table(result, cat.key, minutes)
    feats = []
    for i, (row, t) in enumerate(zip(comm.to_dict("records"), tab.itertuples(index=False))):
        if comm_geoms[i] is None or shapely.is_empty(comm_geoms[i]):
            continue
        props = {
            "c": _share_colour(t.share if t.applies else np.nan),
            "g": 1 if t.gap else 0,
            "tip": _community_tip(row, t, cat, minutes, weight_kind),
        }
        feats.append(_feature(f"c{i}", comm_geoms[i], props))

    def style(f):
        p = f["properties"]
        gap = bool(p["g"])
        return {
            "fillColor": p["c"],
            "fillOpacity": 0.8,
            "color": GAP_OUTLINE if gap else OK_OUTLINE,
            "weight": 2.0 if gap else 1.2,
            "opacity": 1.0,
        }

    def highlight(f):
        return {"weight": 4, "color": "#00e5ff", "fillOpacity": 0.9}

    return folium.GeoJson(
        _fc(feats),
        name=name,
        show=show,
        style_function=style,
        highlight_function=highlight,
        on_each_feature=JsCode("function(f, l) { l.bindTooltip(f.properties.tip, {sticky: true}); }"),
        pane=_PANE_COMMUNITIES,
        smooth_factor=0.5,
    )


def _area_layer(areas, lv, project, *, name, show) -> folium.GeoJson:
    row = areas[areas["minutes"] == lv]
    feats = []
    for geom, area in zip(project(row.geometry.to_numpy()), row["area_m2"]):
        if geom is not None and not shapely.is_empty(geom):
            feats.append(_feature(f"a{lv}", geom, {"minutes": lv, "area_km2": round(float(area) / 1e6, 3)}))
    colour = LEVEL_COLOURS.get(lv, "#2171b5")

    def style(f):
        return {"color": colour, "weight": 1.2, "fillColor": colour, "fillOpacity": 0.16, "opacity": 0.9}

    return folium.GeoJson(
        _fc(feats), name=name, show=show, style_function=style, pane=_PANE_AREAS, interactive=False
    )


def _facility_popup(rec: dict, cat) -> str:
    src = str(rec.get("source") or "")
    label = _SOURCE_LABEL.get(src, _esc(src or "unknown"))
    if src == "sample":
        label = f'<b style="color:#c00">{label}</b>'
    area = rec.get("floor_area_m2")
    area_txt = f"<br>面积 Floor area: {float(area):,.0f} m²" if area is not None and np.isfinite(area) else ""
    name = _esc(rec.get("name") or "(未命名 unnamed)")
    return (
        f"<b>{name}</b><br>类别 Category: {_esc(cat.name_zh)} / {_esc(cat.name_en)}<br>"
        f"来源 Source: {label}{area_txt}<br><small>ID {_esc(rec.get('facility_id'))}</small>"
    )


def _facility_layer(fac, cat, colour, project, *, name, show) -> folium.GeoJson:
    f = fac[fac["category"] == cat.key]
    geoms = project(f.geometry.to_numpy()) if len(f) else []
    feats = []
    for j, (rec, geom) in enumerate(zip(f.drop(columns="geometry").to_dict("records"), geoms)):
        src = str(rec.get("source") or "")
        feats.append(_feature(f"f{j}", geom, {"s": src, "popup": _facility_popup(rec, cat)}))

    def style(feat):
        src = feat["properties"]["s"]
        base = {
            "radius": 6,
            "color": colour,
            "weight": 2,
            "opacity": 1.0,
            "fillColor": colour,
            "fillOpacity": 0.95,
            "pane": _PANE_FACILITIES,
        }
        if src == "sample":  # hollow, dashed: not observed
            base.update(fillColor="#ffffff", fillOpacity=0.95, dashArray="3 2", weight=2.5, radius=7)
        elif src == "user":
            base.update(color="#000000", weight=2.5)
        return base

    return folium.GeoJson(
        _fc(feats),
        name=name,
        show=show,
        style_function=style,
        marker=folium.CircleMarker(radius=6),
        on_each_feature=JsCode(
            "function(f, l) { l.bindPopup(f.properties.popup, {maxWidth: 320}); "
            "l.bindTooltip(f.properties.popup, {direction: 'top'}); }"
        ),
    )


def _street_layer(result: PlanResult, project, *, show: bool) -> folium.GeoJson:
    """Every street of the network, merged and simplified: orientation without a tile server."""
    cache = result.__dict__.setdefault("_webmap_cache", {})
    if "streets" not in cache:
        net = result.data.net
        xy = net.node_xy
        lines = shapely.linestrings(np.stack([xy[net.seg_u], xy[net.seg_v]], axis=1))
        merged = shapely.simplify(shapely.line_merge(shapely.union_all(lines)), STREET_SIMPLIFY_M)
        cache["streets"] = gpd.GeoSeries([merged], crs=net.crs).to_crs("EPSG:4326").to_numpy()
    feats = [_feature("s0", g, {}) for g in project(cache["streets"]) if not shapely.is_empty(g)]
    return folium.GeoJson(
        _fc(feats),
        name=STREETS_LAYER,
        show=show,
        pane=_PANE_CONTEXT,
        interactive=False,
        style_function=lambda f: {"color": "#b4b4b4", "weight": 1.0, "opacity": 0.9},
    )


def _district_layer(result: PlanResult, project, *, show: bool) -> folium.GeoJson | None:
    """District boundary lines inside the region with a label per district (Chinese and English)."""
    region = result.data.region
    path = region.districts_path
    if path is None or not Path(path).exists():
        return None
    try:
        d = gpd.read_file(path).to_crs("EPSG:4326")
    except Exception:
        return None
    name_col = next((c for c in ("district_name", "short_name", "name") if c in d), None)
    box = shapely.box(*region.bbox)
    d = d[d.intersects(box)]
    if d.empty or name_col is None:
        return None
    lines = [g for g in shapely.intersection(d.boundary.to_numpy(), box) if not shapely.is_empty(g)]
    feats = [
        _feature(f"b{i}", g, {"label": ""}) for i, g in enumerate(project(np.array(lines, dtype=object)))
    ]
    inside = shapely.intersection(d.geometry.to_numpy(), box)
    for i, (name, geom) in enumerate(zip(d[name_col].astype(str), inside)):
        if shapely.area(geom) < 0.05 * box.area:
            continue
        en = _DISTRICT_EN.get(name, "")
        pt = project(np.array([shapely.point_on_surface(geom)], dtype=object))[0]
        feats.append(_feature(f"p{i}", pt, {"label": f"{_esc(name)}{' ' + en if en else ''}"}))
    return folium.GeoJson(
        _fc(feats),
        name=DISTRICTS_LAYER,
        show=show,
        pane=_PANE_CONTEXT,
        interactive=False,
        style_function=lambda f: {
            "color": "#6b6b6b",
            "weight": 1.6,
            "opacity": 0.9,
            "dashArray": "6 4",
            "radius": 1,
            "fillOpacity": 0,
            "pane": _PANE_CONTEXT,
        },
        marker=folium.CircleMarker(radius=1),
        on_each_feature=JsCode(
            "function(f, l) { if (f.properties.label) { l.bindTooltip(f.properties.label, "
            "{permanent: true, direction: 'center', className: 'circles-district-label'}); } }"
        ),
    )


# ------------------------------------------------------------------------------------ page furniture
class _AfterLayers(MacroElement):
    """Script run after the layer control exists: add the OSM attribution and a metric scale bar
    (folium's ``control_scale`` adds feet too), and move the layer control into the side panel."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            map.attributionControl.addAttribution({{ this.attribution|tojson }});
            L.control.scale({imperial: false, maxWidth: 160, position: "bottomleft"}).addTo(map);
            var host = document.getElementById("circles-layers");
            var ctl = document.querySelector("#{{ this._parent.get_name() }} .leaflet-control-layers");
            if (host && ctl) { host.appendChild(ctl); }
            document.documentElement.setAttribute("data-circles-map", "ready");
        })();
        {% endmacro %}
        """
    )

    def __init__(self, attribution: str):
        super().__init__()
        self._name = "CirclesAfterLayers"
        self.attribution = attribution


_CSS = """
html, body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif; }
#%(map)s { position: absolute !important; left: %(w)dpx !important; top: 0 !important; right: 0 !important;
  bottom: 0 !important; width: auto !important; height: auto !important; }
.leaflet-container { background: #f4f3ef; }
#circles-side { position: absolute; left: 0; top: 0; bottom: 0; width: %(w)dpx; box-sizing: border-box;
  overflow-y: auto; padding: 10px 12px; background: #fff; border-right: 1px solid #ccc; font-size: 12.5px;
  line-height: 1.35; color: #222; z-index: 1000; }
#circles-side h1 { font-size: 16px; margin: 0 0 2px; }
#circles-side h1 small { display: block; font-size: 12px; font-weight: normal; color: #555; }
#circles-side h2 { font-size: 13px; margin: 10px 0 4px; border-bottom: 1px solid #ddd; padding-bottom: 2px; }
#circles-side .region { color: #333; margin: 4px 0; }
#circles-side .answer { background: #fff3f0; border-left: 4px solid #a50026; padding: 6px 8px; margin: 8px 0; }
#circles-side .answer b.big { font-size: 15px; color: #a50026; }
#circles-side .note { color: #555; font-size: 11.5px; margin: 3px 0; }
#circles-side .sample { color: #c00; font-weight: bold; }
#circles-side .attr { margin-top: 8px; font-size: 11.5px; }
.circles-legend .row { display: flex; align-items: center; margin: 2px 0; }
.circles-legend .sw { width: 18px; height: 12px; margin-right: 6px; flex: none; box-sizing: border-box; }
.circles-legend .dot { width: 12px; height: 12px; border-radius: 50%%; margin: 0 9px 0 3px; flex: none; box-sizing: border-box; }
#circles-layers .leaflet-control-layers { box-shadow: none; border: 1px solid #ddd; margin: 0; float: none; }
#circles-layers .leaflet-control-layers-list { font-size: 12px; }
#circles-layers .leaflet-control-layers-scrollbar { overflow-y: visible; height: auto !important; padding-right: 6px; }
#circles-layers label { margin: 1px 0; }
.leaflet-tooltip { font-size: 12px; line-height: 1.4; white-space: normal; width: max-content; max-width: 380px; }
.leaflet-popup-content { font-size: 12.5px; line-height: 1.4; }
.leaflet-tooltip.circles-district-label { background: rgba(255,255,255,0.6); border: 0; box-shadow: none;
  color: #555; font-size: 12px; font-weight: bold; padding: 0 3px; }
.leaflet-tooltip.circles-district-label::before { display: none; }
@media (max-width: 760px) {
  #circles-side { width: 100%%; bottom: auto; height: 42vh; border-right: 0; border-bottom: 1px solid #ccc; }
  #%(map)s { left: 0 !important; top: 42vh !important; }
}
"""


def _legend_html(minutes: int, targets: str, weight_kind: str, shown_colour: str) -> str:
    rows = []
    for _, colour, label in SHARE_CLASSES:
        rows.append(f'<div class="row"><span class="sw" style="background:{colour}"></span>{label}</div>')
    rows.append(
        f'<div class="row"><span class="sw" style="background:{NA_COLOUR}"></span>不适用 not required</div>'
    )
    gap = (
        f'<div class="row"><span class="sw" style="background:#f46d43;border:2.5px solid {GAP_OUTLINE}"></span>'
        f"黑框 = 缺口：{minutes}分钟内覆盖率低于目标 black outline = gap: share within {minutes} min below target ({targets})</div>"
        f'<div class="row"><span class="sw" style="background:#1a9850;border:1.5px solid #999"></span>'
        f"白框 = 已达标 white outline = meets target</div>"
    )
    levels = "".join(
        f'<div class="row"><span class="sw" style="background:{c}33;border:1.5px solid {c}"></span>'
        f"{lv}分钟步行可达范围 area within {lv} min walk</div>"
        for lv, c in LEVEL_COLOURS.items()
    )
    markers = (
        f'<div class="row"><span class="dot" style="background:{shown_colour};border:2px solid {shown_colour}"></span>'
        f"实心 = OSM 观测设施 filled = observed (OSM)</div>"
        f'<div class="row"><span class="dot" style="background:#fff;border:2px dashed {shown_colour}"></span>'
        f'<span><span class="sample">空心虚线 = 示例数据 SAMPLE</span>, not observed (hollow, dashed)</span></div>'
        f'<div class="row"><span class="dot" style="background:{shown_colour};border:2.5px solid #000"></span>'
        f"黑边 = 用户数据 black ring = user-supplied</div>"
    )
    if weight_kind == "area":
        weighting = (
            "覆盖率按居住用地面积加权，不是人数（无人口数据）。Shares are AREA-weighted (m² of residential "
            "land), not people: no population data was given."
        )
    else:
        weighting = f"覆盖率按居民人数加权 Shares are weighted by residents ({_esc(weight_kind)})."
    return (
        f'<div class="circles-legend"><h2>图例 Legend</h2>'
        f"<div><b>社区覆盖率 Community covered share</b> — {minutes}分钟内可达的比例 share reaching the category within {minutes} min</div>"
        f'{"".join(rows)}{gap}<div style="margin-top:5px"><b>服务范围 Service areas</b> (街道网络 street network)</div>{levels}'
        f'<div style="margin-top:5px"><b>设施 Facilities</b> (点击查看 click for details)</div>{markers}'
        f'<p class="note"><b>加权 Weighting:</b> {weighting}</p></div>'
    )


def _answer_html(result: PlanResult, cat, minutes: int) -> str:
    tab = _community_table(result, cat.key, minutes)
    app = tab[tab["applies"]]
    n, n_gap, n_zero = len(app), int(app["gap"].sum()), int((app["share"] < 0.005).sum())
    w = app["weight"].fillna(0).to_numpy()
    share = float((app["share"].fillna(0) * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
    basis = "居住用地面积 residential area" if result.data.weight_kind == "area" else "居民 residents"
    nfac = result.data.facilities
    nfac = nfac[nfac["category"] == cat.key]
    n_sample = int((nfac["source"] == "sample").sum())
    fac_txt = f"{len(nfac)} 个设施 facilities" + (
        f', <span class="sample">其中 {n_sample} 个为示例数据 SAMPLE</span>' if n_sample else ""
    )
    return (
        f'<div class="answer">打开时显示 Shown: <b>{_esc(cat.name_zh)} {_esc(cat.name_en)}</b><br>'
        f'<b class="big">{n_gap} / {n}</b> 个社区{minutes}分钟步行内未达标（黑框）'
        f"communities lack it within a {minutes}-min walk (black outline); "
        f"<b>{n_zero}</b> 个完全没有 have none at all (dark red).<br>"
        f"{minutes}分钟覆盖 {basis} covered: <b>{_pct(share)}</b>. {fac_txt}.</div>"
    )


def _sidebar_html(result: PlanResult, cats: list, minutes: int, tile: TileSpec | None) -> str:
    region = result.data.region
    year = _data_year(region)
    year_txt = f"{year} " if year else ""
    shown = cats[0]
    targets = sorted({f"{100 * t:.0f}%" for t in result.coverage["target_share"].dropna().unique()})
    notes = "".join(f'<p class="note">• {_esc(n)}</p>' for n in result.data.notes)
    n_sample = int((result.data.facilities["source"] == "sample").sum())
    sample_txt = (
        (
            f'<p class="note sample">{n_sample} 个设施为示例数据 facilities are SAMPLE data, not observed '
            f"(空心虚线标记 hollow dashed markers).</p>"
        )
        if n_sample
        else ""
    )
    base = (
        (
            f"底图 Base map: {_esc(tile.name)}"
            + (" — 矢量图层已转换为 GCJ-02 vector layers shifted to GCJ-02" if tile.gcj02 else "")
        )
        if tile
        else "无底图（离线）No base map (works offline)"
    )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<div id="circles-side">'
        f"<h1>15分钟社区生活圈 设施覆盖图<small>15-minute community life circle — coverage map</small></h1>"
        f'<div class="region"><b>{_esc(region.name_zh)}</b><br>{_esc(region.name_en)}</div>'
        f'<div class="note">数据 Data: OpenStreetMap {year_txt}(© OpenStreetMap contributors, ODbL) · {base}</div>'
        f"{_answer_html(result, shown, minutes)}"
        f"{_legend_html(minutes, '/'.join(targets) or '—', result.data.weight_kind, _category_colour(shown.key, 0))}"
        f'<h2>图层 Layers</h2><p class="note">勾选查看其他设施类别 tick to show other categories</p>'
        f'<div id="circles-layers"></div>'
        f"<h2>说明 Notes</h2>{sample_txt}{notes}"
        f'<p class="note">circles {__version__} · {generated}</p>'
        f'<p class="attr">{OSM_ATTRIBUTION} (ODbL) · Leaflet (BSD-2-Clause)</p>'
        f"</div>"
    )


# ---------------------------------------------------------------------------------------------- API
def build_map(
    result: PlanResult,
    *,
    category: str | Sequence[str] | None = None,
    tiles: str | None = None,
    minutes: int = DEFAULT_MINUTES,
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
    from ..outputs.layers import service_area_layer

    if minutes not in LEVELS_MIN:
        raise InputError(f"minutes must be one of {', '.join(map(str, LEVELS_MIN))}, not {minutes!r}")
    cats = _categories(result, category)
    tile = resolve_tiles(tiles, tiles_attr, tiles_crs)
    project = _projector(bool(tile and tile.gcj02))
    data = result.data

    x0, y0, x1, y1 = data.communities.total_bounds if len(data.communities) else data.region.bbox
    (bx0, bx1), (by0, by1) = _proj_xy(np.array([x0, x1]), np.array([y0, y1]), bool(tile and tile.gcj02))
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
    m.default_js, m.default_css = [], []  # nothing from CDNs: Leaflet is inlined below
    root = m.get_root()
    region = data.region
    root.title = _esc(
        f"{region.name_zh} 15分钟社区生活圈覆盖图 coverage map — {cats[0].name_zh} {cats[0].name_en}"
    )
    js, css = _leaflet_assets()
    root.header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"), name="leaflet_inline")
    root.header.add_child(
        Element(f"<style>{_CSS % {'map': m.get_name(), 'w': _SIDEBAR_W}}</style>"), name="circles_css"
    )
    root.html.add_child(Element(_sidebar_html(result, cats, minutes, tile)), name="circles_sidebar")

    if tile is not None:
        folium.TileLayer(
            tiles=tile.url,
            attr=tile.attribution,
            name=tile.name,
            subdomains=tile.subdomains,
            max_zoom=tile.max_zoom,
            max_native_zoom=tile.max_zoom,
            overlay=False,
            control=True,
        ).add_to(m)
    for pane, z, events in (
        (_PANE_CONTEXT, 402, False),
        (_PANE_AREAS, 405, False),
        (_PANE_COMMUNITIES, 410, True),
        (_PANE_FACILITIES, 420, True),
    ):
        folium.map.CustomPane(pane, z_index=z, pointer_events=events).add_to(m)

    comm = data.communities
    metric = comm.to_crs(region.metric_crs).geometry
    simple = shapely.simplify(metric.to_numpy(), COMMUNITY_SIMPLIFY_M, preserve_topology=True)
    comm_geoms = project(
        gpd.GeoSeries(simple, index=comm.index, crs=region.metric_crs).to_crs("EPSG:4326").to_numpy()
    )

    for i, cat in enumerate(cats):
        names = layer_names(cat, minutes)
        shown = i == 0
        areas = service_area_layer(result, cat.key, LEVELS_MIN)
        for lv in sorted(LEVELS_MIN, reverse=True):
            _area_layer(areas, lv, project, name=names[f"area_{lv}"], show=shown and lv == minutes).add_to(m)
        _community_layer(
            result, cat, minutes, comm_geoms, data.weight_kind, name=names["communities"], show=shown
        ).add_to(m)
        _facility_layer(
            data.facilities, cat, _category_colour(cat.key, i), project, name=names["facilities"], show=shown
        ).add_to(m)

    _street_layer(result, project, show=tile is None).add_to(m)
    districts = _district_layer(result, project, show=True)
    if districts is not None:
        districts.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_AfterLayers(OSM_ATTRIBUTION_HTML))
    m.fit_bounds([[by0, bx0], [by1, bx1]], padding=(12, 12))
    return m


def _proj_xy(x: np.ndarray, y: np.ndarray, gcj02: bool) -> tuple[np.ndarray, np.ndarray]:
    if gcj02:
        x, y = wgs84_to_gcj02(x, y)
    return np.asarray(x), np.asarray(y)


def write_map(
    result: PlanResult,
    path: str | os.PathLike,
    *,
    category: str | Sequence[str] | None = None,
    tiles: str | None = None,
    minutes: int = DEFAULT_MINUTES,
    tiles_attr: str | None = None,
    tiles_crs: str = "wgs84",
) -> Path:
    """Build the map (see :func:`build_map`) and write it as one self-contained HTML file, atomically
    (parent folders are created). Returns the path."""
    path = Path(path)
    page = render_map(
        result, category=category, tiles=tiles, minutes=minutes, tiles_attr=tiles_attr, tiles_crs=tiles_crs
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def render_map(result: PlanResult, **kwargs) -> str:
    """The map's HTML page as a string (keyword arguments as for :func:`build_map`); for serving it
    from the API without a file. Non-ASCII characters that folium writes as ``\\uXXXX`` escapes are
    written as UTF-8 instead (half the bytes for Chinese text, and the page stays greppable)."""
    return _unescape_non_ascii(build_map(result, **kwargs).get_root().render())


_U_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def _unescape_non_ascii(page: str) -> str:
    """``\\u4e2d`` -> ``中`` in JSON/JS string literals; ASCII escapes (``\\u003c`` keeps ``</script>``
    out of scripts), surrogates and U+2028/2029 stay escaped; escaped backslashes are respected."""

    def rep(m: re.Match) -> str:
        cp = int(m.group(2), 16)
        if cp < 0x80 or 0xD800 <= cp <= 0xDFFF or cp in (0x2028, 0x2029):
            return m.group(0)
        return m.group(1) + chr(cp)

    return _U_ESCAPE.sub(rep, page)
