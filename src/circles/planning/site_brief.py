"""What a designer needs per chosen site beyond what it newly covers: the floor area to build for the
residents it serves (the catalog's capacity rule), the nearest existing facility of the category on
the street network, and the streets and buildings around it (from the region's OSM extract).

Geometry work is in the network's metric CRS (metres); the context layers returned are EPSG:4326.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._common import WGS84
from .residents import PERSONS_PER_HOUSEHOLD

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Category
    from ..pipeline import PlanResult

__all__ = [
    "CONTEXT_RADIUS_M",
    "NEAREST_CUTOFF_S",
    "nearest_existing",
    "region_buildings",
    "region_streets",
    "site_context",
    "suggested_floor",
]

log = logging.getLogger(__name__)

#: Streets and buildings within this distance of a chosen site are drawn around it, metres.
CONTEXT_RADIUS_M = 200.0
#: The nearest existing facility is looked for up to this walking time, seconds.
NEAREST_CUTOFF_S = 3600.0


# --- the region's streets and buildings ------------------------------------------------------------


def region_streets(result: PlanResult) -> gpd.GeoDataFrame | None:
    """Every OSM highway way of the plan's extract in the network's metric CRS (``street_id``,
    ``highway``, ``name``, ``layer``), or None without an extract. Kept in ``result.caches``."""
    return _region_layer(result, "streets")


def region_buildings(result: PlanResult) -> gpd.GeoDataFrame | None:
    """Every OSM building of the plan's extract in the network's metric CRS (``building_id``,
    ``building``, ``name``, ``levels``), or None without an extract. Kept in ``result.caches``."""
    return _region_layer(result, "buildings")


def _region_layer(result: PlanResult, what: str) -> gpd.GeoDataFrame | None:
    from ..io.osm_context import osm_buildings, osm_streets

    path = result.data.region.osm_path
    if not path.exists():
        return None
    cache = result.caches.setdefault("osm_context", {})
    key = (str(path), what)
    if key not in cache:
        read = osm_streets if what == "streets" else osm_buildings
        cache[key] = read(path).to_crs(result.data.net.crs)
    layer: gpd.GeoDataFrame = cache[key]
    return layer


def site_context(
    result: PlanResult, sites: gpd.GeoDataFrame, radius_m: float = CONTEXT_RADIUS_M
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Streets (cut at ``radius_m`` metres around the sites) and buildings (whole, when they touch that
    area) around the chosen ``sites`` (any CRS, with ``rank``), EPSG:4326, each with ``near_sites``:
    the ranks of the sites within ``radius_m`` ('1, 3'). Empty tables without an extract."""
    streets, buildings = region_streets(result), region_buildings(result)
    crs = result.data.net.crs
    out = []
    for layer, cut in ((streets, True), (buildings, False)):
        if layer is None or not len(sites):
            out.append(_empty_context(layer))
            continue
        zones = sites.to_crs(crs)
        zones = gpd.GeoDataFrame({"rank": zones["rank"].to_numpy()}, geometry=zones.buffer(radius_m), crs=crs)
        near = gpd.sjoin(layer, zones, predicate="intersects", how="inner")
        if not len(near):
            out.append(_empty_context(layer))
            continue
        ranks = near.groupby(level=0)["rank"].agg(lambda r: ", ".join(str(int(x)) for x in sorted(set(r))))
        sub = layer.loc[ranks.index].copy()
        sub["near_sites"] = ranks.to_numpy()
        if cut:
            area = shapely.union_all(zones.geometry.to_numpy())
            sub = sub.set_geometry(sub.geometry.intersection(area))
            sub = sub[~sub.geometry.is_empty]
        out.append(sub.reset_index(drop=True).to_crs(WGS84))
    return out[0], out[1]


def _empty_context(layer: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    cols = [c for c in layer.columns if c != layer.geometry.name] if layer is not None else []
    frame = pd.DataFrame(columns=[*cols, "near_sites"])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


# --- floor area ----------------------------------------------------------------------------------


def suggested_floor(
    cat: Category, added_residents: np.ndarray, people: bool
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per site: the households it adds (``added_residents`` / 2.49; NaN when the plan is area-weighted),
    the suggested floor area (m²: the catalog's capacity rule for those households, at least the
    category's ``min_area_m2``) and its basis (bilingual text saying how, or why it cannot be
    computed)."""
    res = np.asarray(added_residents, dtype=float)
    hh = res / PERSONS_PER_HOUSEHOLD if people else np.full(len(res), np.nan)
    floor = np.full(len(res), np.nan)
    basis: list[str] = []
    rule, least = cat.capacity_m2_per_100_households, cat.min_area_m2
    for i, h in enumerate(hh):
        if rule is not None and np.isfinite(h):
            need = rule * h / 100.0
            floor[i] = round(max(need, least or 0.0))
            more = f"，不少于 {least:g} m²" if least else ""
            more_en = f", at least {least:g} m²" if least else ""
            basis.append(
                f"按每百户 {rule:g} m² × 新增 {h:,.0f} 户{more} / {rule:g} m² per 100 households × "
                f"{h:,.0f} households it adds{more_en}"
            )
        elif rule is not None:
            floor[i] = np.nan
            basis.append(
                "无人口数据（按用地面积加权），户数未知，无法计算 / cannot be computed: no population "
                "data (area-weighted plan), households unknown"
                + (f"; at least {least:g} m²" if least else "")
            )
        elif least:
            floor[i] = least
            basis.append(
                f"目录规定单处最小建筑面积 {least:g} m² / the catalog's minimum floor area of one facility"
            )
        else:
            basis.append("目录无配建面积标准 / the catalog has no floor-area rule for this category")
    return hh, floor, basis


# --- the nearest existing facility ---------------------------------------------------------------


def nearest_existing(
    result: PlanResult, category: str, site_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per site (routing points in the network CRS, metres): walking minutes and metres (on the street
    network of the ``walk`` profile, or the plan's first) to the nearest existing facility of
    ``category``, and its name ('(SAMPLE)' added for sample data); NaN and '' when none is reached
    within :data:`NEAREST_CUTOFF_S`."""
    site_xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    n = len(site_xy)
    minutes, metres, names = np.full(n, np.nan), np.full(n, np.nan), np.full(n, "", dtype=object)
    fac = result.data.facilities
    f = fac[fac["category"] == category]
    if n == 0 or not len(f):
        return minutes, metres, names
    graphs = result.data.graphs
    g = graphs.get("walk") or next(iter(graphs.values()))
    fsnap = g.snap(result.data.net.project(f.geometry.x.to_numpy(), f.geometry.y.to_numpy()), strict=False)
    ssnap = g.snap(site_xy, strict=False)
    t, origin = g.search(fsnap, cutoff_s=NEAREST_CUTOFF_S).at(ssnap)
    ok = np.isfinite(t) & (origin >= 0)
    minutes[ok] = np.round(t[ok] / 60.0, 1)
    metres[ok] = np.round(t[ok] * g.profile.speed_m_s)
    label = [
        str(nm) + (" (SAMPLE)" if src == "sample" else "")
        for nm, src in zip(f["name"].fillna("").astype(str), f["source"].fillna("").astype(str))
    ]
    for i in np.flatnonzero(ok):
        names[i] = label[int(origin[i])]
    return minutes, metres, names
