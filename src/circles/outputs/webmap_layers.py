"""The coverage map's vector layers (folium GeoJSON overlays): service areas per level, communities
shaded by covered share with the gaps outlined, facility markers, and the street network and
district boundaries for orientation. Geometries come in EPSG:4326 and are drawn in display
coordinates (see :func:`projector`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.utilities import JsCode
from shapely.geometry import mapping

from .._common import WGS84
from ..catalog import LEVELS_MIN
from ..io.coords import wgs84_to_gcj02
from .webmap_style import (
    DISTRICT_EN,
    GAP_OUTLINE,
    LEVEL_COLOURS,
    OK_OUTLINE,
    PANE_AREAS,
    PANE_COMMUNITIES,
    PANE_CONTEXT,
    PANE_FACILITIES,
    PROFILE_ZH,
    SOURCE_LABEL,
    esc,
    pct,
    share_colour,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Category
    from ..pipeline import PlanResult

__all__ = [
    "COMMUNITY_SIMPLIFY_M",
    "COORD_DECIMALS",
    "DISTRICTS_LAYER",
    "STREETS_LAYER",
    "STREET_SIMPLIFY_M",
    "Projector",
    "area_layer",
    "community_geometries",
    "community_layer",
    "community_table",
    "district_layer",
    "facility_layer",
    "projector",
    "street_layer",
]

#: Coordinates are written with this many decimals (~0.1 m).
COORD_DECIMALS = 6
#: Community outlines are simplified by this many metres for display.
COMMUNITY_SIMPLIFY_M = 2.0
#: The street context layer is simplified by this many metres.
STREET_SIMPLIFY_M = 5.0
#: Context overlays (drawn under the coverage layers; the streets stand in for a base map offline).
STREETS_LAYER = "街道网络 Street network (OSM)"
DISTRICTS_LAYER = "区界 District boundaries"

#: Geometry array (EPSG:4326) -> the same geometries in display coordinates.
Projector = Callable[[np.ndarray], np.ndarray]
GeoJsonDict = dict[str, Any]


def projector(gcj02: bool) -> Projector:
    """Geometry array (EPSG:4326) -> display coordinates (GCJ-02 when asked), rounded to
    :data:`COORD_DECIMALS`."""

    def fn(xy: np.ndarray) -> np.ndarray:
        if gcj02 and len(xy):
            x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            xy = np.column_stack([x, y])
        return np.round(xy, COORD_DECIMALS)

    return lambda geoms: shapely.transform(np.asarray(geoms, dtype=object), fn)


def _fc(features: list[GeoJsonDict]) -> GeoJsonDict:
    return {"type": "FeatureCollection", "features": features}


def _feature(fid: str, geom: shapely.Geometry, props: GeoJsonDict) -> GeoJsonDict:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": mapping(geom)}


# ------------------------------------------------------------------------------------- communities
def community_table(result: PlanResult, key: str, minutes: int) -> pd.DataFrame:
    """One row per community: share within ``minutes``, shares at every level, threshold share,
    target, gap flags, nearest facility and time (``nearest_s`` seconds, ``nearest_m`` metres)."""
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
    listed: set[str] = set()
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


def community_geometries(result: PlanResult, project: Projector) -> np.ndarray:
    """The communities' outlines simplified by :data:`COMMUNITY_SIMPLIFY_M` metres (in the region's
    metric CRS), in display coordinates."""
    comm = result.data.communities
    metric_crs = result.data.region.metric_crs
    simple = shapely.simplify(
        comm.to_crs(metric_crs).geometry.to_numpy(), COMMUNITY_SIMPLIFY_M, preserve_topology=True
    )
    return project(gpd.GeoSeries(simple, index=comm.index, crs=metric_crs).to_crs(WGS84).to_numpy())


def _community_tip(row: Mapping[Hashable, Any], t: Any, cat: Category, minutes: int, weight_kind: str) -> str:
    """Tooltip of one community: name, residents (or area), status, shares per level, nearest.
    ``t`` is the community's row of :func:`community_table`."""
    name = esc(row["name"] or "(未命名 unnamed)")
    district = f" · {esc(row['district'])}" if row.get("district") else ""
    res = row.get("residents")
    area_ha = float(row["area_m2"]) / 1e4
    if weight_kind != "area" and res is not None and np.isfinite(res):
        who = f"居民 Residents: {res:,.0f}"
    else:
        who = f"居民 Residents: 未知 unknown — 按面积加权 area-weighted ({area_ha:.1f} ha)"
    prof = PROFILE_ZH.get(t.profile, t.profile)
    within = f"{minutes}分钟内覆盖 covered within {minutes} min"
    if not t.applies:
        status = "不适用 not required for this community type"
    elif t.gap:
        status = f'<b style="color:#a50026">缺口 GAP</b> — {within}: <b>{pct(t.share)}</b>'
    else:
        status = (
            f'<b style="color:#1a9850">已覆盖 covered</b> — {minutes}分钟内 within {minutes} min: '
            f"<b>{pct(t.share)}</b>"
        )
    levels = " / ".join(pct(getattr(t, f"share_{lv}")) for lv in LEVELS_MIN)
    if np.isfinite(t.nearest_s):
        src = " <b>[示例 SAMPLE]</b>" if t.nearest_source == "sample" else ""
        near = (
            f"最近 Nearest: {esc(t.nearest_name or '(未命名 unnamed)')}{src}, "
            f"{t.nearest_s / 60:.1f} 分钟 min ({t.nearest_m:,.0f} m)"
        )
    else:
        near = "最近 Nearest: 不可达 none reachable"
    thr = (
        ""
        if not np.isfinite(t.threshold_min)
        else (
            f"<br>规划阈值 planning threshold {t.threshold_min:g} min: {pct(t.covered_share)} "
            f"(目标 target {pct(t.target)}){' — 列入缺口清单 in gap list' if t.listed_gap else ''}"
        )
    )
    return (
        f"<b>{name}</b>{district}<br>{who}<br>{esc(cat.name_zh)} {esc(cat.name_en)} ({prof}): {status}"
        f"<br>5 / 10 / 15 分钟 min: {levels}{thr}<br>{near}"
    )


def community_layer(
    result: PlanResult,
    cat: Category,
    minutes: int,
    comm_geoms: np.ndarray,
    weight_kind: str,
    *,
    name: str,
    show: bool,
) -> folium.GeoJson:
    """Communities (``comm_geoms``, display coordinates) filled by their share within ``minutes``,
    gaps outlined black, with a tooltip each."""
    comm = result.data.communities
    tab = community_table(result, cat.key, minutes)
    feats = []
    for i, (row, t) in enumerate(zip(comm.to_dict("records"), tab.itertuples(index=False))):
        if comm_geoms[i] is None or shapely.is_empty(comm_geoms[i]):
            continue
        props = {
            "c": share_colour(t.share if t.applies else np.nan),
            "g": 1 if t.gap else 0,
            "tip": _community_tip(row, t, cat, minutes, weight_kind),
        }
        feats.append(_feature(f"c{i}", comm_geoms[i], props))

    def style(f: GeoJsonDict) -> dict[str, Any]:
        p = f["properties"]
        gap = bool(p["g"])
        return {
            "fillColor": p["c"],
            "fillOpacity": 0.8,
            "color": GAP_OUTLINE if gap else OK_OUTLINE,
            "weight": 2.0 if gap else 1.2,
            "opacity": 1.0,
        }

    def highlight(f: GeoJsonDict) -> dict[str, Any]:
        return {"weight": 4, "color": "#00e5ff", "fillOpacity": 0.9}

    return folium.GeoJson(
        _fc(feats),
        name=name,
        show=show,
        style_function=style,
        highlight_function=highlight,
        on_each_feature=JsCode("function(f, l) { l.bindTooltip(f.properties.tip, {sticky: true}); }"),
        pane=PANE_COMMUNITIES,
        smooth_factor=0.5,
    )


# ------------------------------------------------------------------------------- areas, facilities
def area_layer(
    areas: gpd.GeoDataFrame, lv: int, project: Projector, *, name: str, show: bool
) -> folium.GeoJson:
    """The service area of level ``lv`` (minutes) from ``areas`` (a service-area layer, EPSG:4326)."""
    row = areas[areas["minutes"] == lv]
    feats = []
    for geom, area in zip(project(row.geometry.to_numpy()), row["area_m2"]):
        if geom is not None and not shapely.is_empty(geom):
            feats.append(_feature(f"a{lv}", geom, {"minutes": lv, "area_km2": round(float(area) / 1e6, 3)}))
    colour = LEVEL_COLOURS.get(lv, "#2171b5")

    def style(f: GeoJsonDict) -> dict[str, Any]:
        return {"color": colour, "weight": 1.2, "fillColor": colour, "fillOpacity": 0.16, "opacity": 0.9}

    return folium.GeoJson(
        _fc(feats), name=name, show=show, style_function=style, pane=PANE_AREAS, interactive=False
    )


def _facility_popup(rec: Mapping[Hashable, Any], cat: Category) -> str:
    src = str(rec.get("source") or "")
    label = SOURCE_LABEL.get(src, esc(src or "unknown"))
    if src == "sample":
        label = f'<b style="color:#c00">{label}</b>'
    area = rec.get("floor_area_m2")
    area_txt = f"<br>面积 Floor area: {float(area):,.0f} m²" if area is not None and np.isfinite(area) else ""
    name = esc(rec.get("name") or "(未命名 unnamed)")
    return (
        f"<b>{name}</b><br>类别 Category: {esc(cat.name_zh)} / {esc(cat.name_en)}<br>"
        f"来源 Source: {label}{area_txt}<br><small>ID {esc(rec.get('facility_id'))}</small>"
    )


def facility_layer(
    fac: gpd.GeoDataFrame, cat: Category, colour: str, project: Projector, *, name: str, show: bool
) -> folium.GeoJson:
    """Facilities of ``cat`` as circle markers with a popup: filled = OSM, hollow dashed = SAMPLE,
    black ring = user-supplied."""
    f = fac[fac["category"] == cat.key]
    geoms = project(f.geometry.to_numpy()) if len(f) else np.empty(0, dtype=object)
    feats = []
    for j, (rec, geom) in enumerate(zip(f.drop(columns="geometry").to_dict("records"), geoms)):
        src = str(rec.get("source") or "")
        feats.append(_feature(f"f{j}", geom, {"s": src, "popup": _facility_popup(rec, cat)}))

    def style(feat: GeoJsonDict) -> dict[str, Any]:
        src = feat["properties"]["s"]
        base = {
            "radius": 6,
            "color": colour,
            "weight": 2,
            "opacity": 1.0,
            "fillColor": colour,
            "fillOpacity": 0.95,
            "pane": PANE_FACILITIES,
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


# ---------------------------------------------------------------------------------------- context
def street_layer(result: PlanResult, project: Projector, *, show: bool) -> folium.GeoJson:
    """Every street of the network, merged and simplified by :data:`STREET_SIMPLIFY_M` metres:
    orientation without a tile server. The merged lines are cached on the result
    (``result.caches["webmap"]``)."""
    cache = result.caches.setdefault("webmap", {})
    if "streets" not in cache:
        net = result.data.net
        xy = net.node_xy
        lines = shapely.linestrings(np.stack([xy[net.seg_u], xy[net.seg_v]], axis=1))
        merged = shapely.simplify(shapely.line_merge(shapely.union_all(lines)), STREET_SIMPLIFY_M)
        cache["streets"] = gpd.GeoSeries([merged], crs=net.crs).to_crs(WGS84).to_numpy()
    feats = [_feature("s0", g, {}) for g in project(cache["streets"]) if not shapely.is_empty(g)]
    return folium.GeoJson(
        _fc(feats),
        name=STREETS_LAYER,
        show=show,
        pane=PANE_CONTEXT,
        interactive=False,
        style_function=lambda f: {"color": "#b4b4b4", "weight": 1.0, "opacity": 0.9},
    )


def _read_districts(result: PlanResult) -> tuple[gpd.GeoDataFrame, str] | None:
    """The region's districts (EPSG:4326) that meet its bbox and their name column; None when the
    region has no readable district file."""
    region = result.data.region
    path = region.districts_path
    if path is None or not Path(path).exists():
        return None
    try:
        d = gpd.read_file(path).to_crs(WGS84)
    except Exception:
        return None
    name_col = next((c for c in ("district_name", "short_name", "name") if c in d), None)
    d = d[d.intersects(shapely.box(*region.bbox))]
    if d.empty or name_col is None:
        return None
    return d, name_col


def district_layer(result: PlanResult, project: Projector, *, show: bool) -> folium.GeoJson | None:
    """District boundary lines inside the region with a label per district (Chinese and English);
    None when the region has no district file."""
    found = _read_districts(result)
    if found is None:
        return None
    d, name_col = found
    box = shapely.box(*result.data.region.bbox)
    lines = [g for g in shapely.intersection(d.boundary.to_numpy(), box) if not shapely.is_empty(g)]
    feats = [
        _feature(f"b{i}", g, {"label": ""}) for i, g in enumerate(project(np.array(lines, dtype=object)))
    ]
    inside = shapely.intersection(d.geometry.to_numpy(), box)
    for i, (name, geom) in enumerate(zip(d[name_col].astype(str), inside)):
        if shapely.area(geom) < 0.05 * box.area:
            continue
        en = DISTRICT_EN.get(name, "")
        pt = project(np.array([shapely.point_on_surface(geom)], dtype=object))[0]
        feats.append(_feature(f"p{i}", pt, {"label": f"{esc(name)}{' ' + en if en else ''}"}))
    return folium.GeoJson(
        _fc(feats),
        name=DISTRICTS_LAYER,
        show=show,
        pane=PANE_CONTEXT,
        interactive=False,
        style_function=lambda f: {
            "color": "#6b6b6b",
            "weight": 1.6,
            "opacity": 0.9,
            "dashArray": "6 4",
            "radius": 1,
            "fillOpacity": 0,
            "pane": PANE_CONTEXT,
        },
        marker=folium.CircleMarker(radius=1),
        on_each_feature=JsCode(
            "function(f, l) { if (f.properties.label) { l.bindTooltip(f.properties.label, "
            "{permanent: true, direction: 'center', className: 'circles-district-label'}); } }"
        ),
    )
