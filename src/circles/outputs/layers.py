"""Coverage layers shared by the map, the API and the exports: the area within each threshold of a
category's facilities (EPSG:4326), computed from the street network."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ..pipeline import PlanResult
from ..routing.isochrones import DEFAULT_MINUTES, service_areas

#: Display simplification tolerance, metres (well under a block; keeps maps light).
SIMPLIFY_M = 5.0


def facility_snap(result: PlanResult, category: str, profile: str = "walk"):
    """Facilities of ``category`` snapped to the ``profile`` graph (those too far are left out)."""
    fac = result.data.facilities
    f = fac[fac["category"] == category]
    g = result.data.graphs.get(profile) or next(iter(result.data.graphs.values()))
    xy = (
        result.data.net.project(f.geometry.x.to_numpy(), f.geometry.y.to_numpy())
        if len(f)
        else np.zeros((0, 2))
    )
    return g, g.snap(xy, strict=False) if len(f) else g.snap(np.zeros((0, 2)), strict=False)


def service_area_layer(
    result: PlanResult,
    category: str,
    minutes=DEFAULT_MINUTES,
    *,
    profile: str = "walk",
    simplify_m: float = SIMPLIFY_M,
) -> gpd.GeoDataFrame:
    """Nested areas (one row per threshold, largest first) from which the nearest facility of
    ``category`` is reached within ``minutes`` by ``profile``; EPSG:4326, ``area_m2`` in the metric CRS."""
    result.data.catalog.get(category)
    cache = result.__dict__.setdefault("_area_cache", {})
    key = (category, tuple(sorted(minutes)), profile, simplify_m)
    if key in cache:
        return cache[key]
    g, snap = facility_snap(result, category, profile)
    isos = service_areas(g, snap, list(minutes))
    geoms = [shapely.simplify(i.polygon, simplify_m) if simplify_m else i.polygon for i in isos]
    gdf = gpd.GeoDataFrame(
        {
            "category": category,
            "minutes": [i.minutes for i in isos],
            "profile": profile,
            "area_m2": [round(i.area_m2, 1) for i in isos],
            "street_m": [round(i.street_m, 1) for i in isos],
        },
        geometry=geoms,
        crs=result.data.net.crs,
    ).to_crs("EPSG:4326")
    gdf = gdf.iloc[::-1].reset_index(drop=True)
    cache[key] = gdf
    return gdf
