"""Coverage layers shared by the map, the API and the exports: the area within each threshold of a
category's facilities (EPSG:4326), computed from the street network."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from .._common import WGS84
from ..routing.isochrones import DEFAULT_METHOD, DEFAULT_MINUTES, PolygonMethod, check_method, service_areas

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult
    from ..routing.graph import ProfileGraph, Snap

__all__ = ["SIMPLIFY_M", "facility_snap", "service_area_layer"]

#: Display simplification tolerance, metres (well under a block; keeps maps light).
SIMPLIFY_M = 5.0


def facility_snap(result: PlanResult, category: str, profile: str = "walk") -> tuple[ProfileGraph, Snap]:
    """The ``profile`` graph (the first graph when the plan has no such profile) and the facilities
    of ``category`` snapped to it (those too far from a street are left out)."""
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
    minutes: Iterable[float] = DEFAULT_MINUTES,
    *,
    profile: str = "walk",
    simplify_m: float = SIMPLIFY_M,
    method: PolygonMethod = DEFAULT_METHOD,
) -> gpd.GeoDataFrame:
    """Nested areas (one row per threshold, largest first) from which the nearest facility of
    ``category`` is reached within ``minutes`` by ``profile``; EPSG:4326, ``area_m2`` and ``street_m``
    measured in the network's metric CRS, outlines simplified by ``simplify_m`` metres. ``method``
    builds the polygons: ``"raster"`` (default, fast) or ``"exact"`` (GEOS union; see
    :mod:`circles.routing.isochrones`).

    Cached on the result (``result.caches["service_areas"]``): do not modify the returned frame."""
    result.data.catalog.get(category)
    minutes = list(minutes)
    cache = result.caches.setdefault("service_areas", {})
    key = (category, tuple(sorted(minutes)), profile, simplify_m, check_method(method))
    if key in cache:
        return cache[key]
    g, snap = facility_snap(result, category, profile)
    isos = service_areas(g, snap, minutes, method=method)
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
    ).to_crs(WGS84)
    gdf = gdf.iloc[::-1].reset_index(drop=True)
    cache[key] = gdf
    return gdf
