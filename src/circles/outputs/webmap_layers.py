"""The coverage map's data: the communities (outlines once, and per category their covered shares
and gaps at each level as columns), the service areas per category and level, the facilities with
their marker kind, all as GeoJSON / plain lists for the page's script (``static/circles_map.js``),
which draws one category and one level at a time; and the two folium context overlays (the street
network and the district boundaries). Geometries come in EPSG:4326 and are written in display
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
from .webmap_style import DISTRICT_EN, PANE_CONTEXT, PROFILE_ZH, SOURCE_LABEL, esc, marker_source

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
    "area_features",
    "community_features",
    "community_geometries",
    "community_info",
    "community_table",
    "coverage_columns",
    "district_layer",
    "facility_features",
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
    out["threshold_m"] = g["threshold_m"].to_numpy(dtype=float) if "threshold_m" in g else np.nan
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


def community_info(result: PlanResult) -> dict[str, list[Any]]:
    """What the map says of every community whatever the category, as columns (lists in community
    order): ``name``, ``district``, ``street`` (街道; empty when the communities name none), ``residents``
    (persons; counted, else the census estimate, else None), ``residentsEst`` (1 when estimated) and
    ``areaHa`` (hectares)."""
    comm = result.data.communities
    n = len(comm)

    def text(col: str) -> list[str]:
        if col not in comm:
            return [""] * n
        return ["" if not isinstance(v, str) else v for v in comm[col].to_numpy()]

    counted = _floats(comm, "residents")
    estimate = _floats(comm, "residents_estimate")
    has_count = np.isfinite(counted)
    residents = np.where(has_count, counted, estimate)
    return {
        "name": text("name"),
        "district": text("district"),
        "street": text("street"),
        "residents": [_num(v, 0) for v in residents],
        "residentsEst": [int(not c and np.isfinite(e)) for c, e in zip(has_count, estimate)],
        "areaHa": [_num(v, 2) for v in comm["area_m2"].to_numpy(dtype=float) / 1e4],
    }


def _floats(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _num(v: Any, decimals: int) -> float | int | None:
    """``v`` rounded for JSON; None when not finite (JSON has no NaN)."""
    f = float(v)
    if not np.isfinite(f):
        return None
    return int(round(f)) if decimals == 0 else round(f, decimals)


def community_features(comm_geoms: np.ndarray) -> GeoJsonDict:
    """The communities' outlines (display coordinates) as one feature collection; a feature's ``id``
    is its community row, which indexes every per-community list of the map's data."""
    return _fc(
        [
            {"type": "Feature", "id": i, "properties": {}, "geometry": mapping(g)}
            for i, g in enumerate(comm_geoms)
            if g is not None and not shapely.is_empty(g)
        ]
    )


def coverage_columns(result: PlanResult, key: str) -> dict[str, Any]:
    """Category ``key``'s coverage of every community as columns (lists in community order) for the
    map's script: ``applies`` (0/1), ``share`` and ``gap`` per level (``{"5": [...], ...}``; shares
    0..1, gap 0/1 = share below target), ``target``, ``weight`` (the coverage weight: residents or
    m² of residential area), ``profile``, ``thrMin`` / ``thrM`` / ``covShare`` / ``listed`` (the
    planning threshold in minutes or, for rows judged by distance, metres; the share within it; in the
    gap list) and the nearest facility
    (``nearName``, ``nearMin`` minutes, ``nearM`` metres, ``nearSample`` 0/1)."""
    tabs = {lv: community_table(result, key, lv) for lv in LEVELS_MIN}
    t = tabs[LEVELS_MIN[0]]

    def nums(values: Any, decimals: int) -> list[float | int | None]:
        return [_num(v, decimals) for v in np.asarray(values, dtype=float)]

    return {
        "applies": [int(v) for v in t["applies"]],
        "share": {str(lv): nums(tabs[lv]["share"], 4) for lv in LEVELS_MIN},
        "gap": {str(lv): [int(v) for v in tabs[lv]["gap"]] for lv in LEVELS_MIN},
        "target": nums(t["target"], 4),
        "weight": nums(t["weight"], 1),
        "profile": [PROFILE_ZH.get(p, p) for p in t["profile"]],
        "thrMin": nums(t["threshold_min"], 2),
        "thrM": nums(t["threshold_m"], 1),
        "covShare": nums(t["covered_share"], 4),
        "listed": [int(v) for v in t["listed_gap"]],
        "nearName": [str(v) for v in t["nearest_name"]],
        "nearMin": nums(t["nearest_s"].to_numpy(dtype=float) / 60.0, 1),
        "nearM": nums(t["nearest_m"], 0),
        "nearSample": [int(v == "sample") for v in t["nearest_source"]],
    }


# ------------------------------------------------------------------------------- areas, facilities
def area_features(
    areas: gpd.GeoDataFrame, lv: int, project: Projector, *, walk_m: float | None = None
) -> GeoJsonDict:
    """The service area of level ``lv`` (minutes) from ``areas`` (a service-area layer, EPSG:4326) in
    display coordinates; ``area_km2`` per feature. ``walk_m``: the level is drawn at that network walking
    distance (metres; ``areas`` searched on the 1 m/s distance twin, whose "minutes" are metres / 60)."""
    at = areas["minutes"].to_numpy(dtype=float)
    row = areas[np.isclose(at, walk_m / 60.0) if walk_m is not None else at == lv]
    feats = []
    for geom, area in zip(project(row.geometry.to_numpy()), row["area_m2"]):
        if geom is not None and not shapely.is_empty(geom):
            props: dict[str, Any] = {"minutes": lv, "area_km2": round(float(area) / 1e6, 3)}
            if walk_m is not None:
                props["walk_m"] = walk_m
            feats.append(_feature(f"a{lv}", geom, props))
    return _fc(feats)


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


def facility_features(fac: gpd.GeoDataFrame, cat: Category, project: Projector) -> GeoJsonDict:
    """Facilities of ``cat`` (display coordinates) with their marker kind ``s`` (see
    :func:`~.webmap_style.marker_source`: osm, sample, user, proposed) and a ``popup`` (HTML)."""
    f = fac[fac["category"] == cat.key]
    geoms = project(f.geometry.to_numpy()) if len(f) else np.empty(0, dtype=object)
    feats = []
    for j, (rec, geom) in enumerate(zip(f.drop(columns="geometry").to_dict("records"), geoms)):
        props = {"s": marker_source(rec.get("source")), "popup": _facility_popup(rec, cat)}
        feats.append(_feature(f"f{j}", geom, props))
    return _fc(feats)


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
