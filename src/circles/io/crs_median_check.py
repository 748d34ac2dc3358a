"""The first coordinate-system checks, kept for their callers (:mod:`circles.pipeline`,
:mod:`circles.planning.candidates`): the median distance of a file's points to reference data as given
and as converted (:func:`check_declared_crs`), and matches with OpenStreetMap facilities of the same
category (:func:`check_crs_by_osm_matches`). :func:`circles.io.crs_check.assess_crs` supersedes both:
it compares every reading with random shifts, so it neither cries wolf on random points nor misses small
files. Re-exported by :mod:`circles.io.crs_check`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from .._common import WGS84
from ..errors import CoordinateSystemError
from .coords import (
    CRS_LABELS,
    bd09_to_wgs84,
    gcj02_to_wgs84,
    normalise_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..routing.network import StreetNetwork

__all__ = ["check_crs_by_osm_matches", "check_declared_crs", "detect_bd09_shift", "detect_gcj02_shift"]

log = logging.getLogger(__name__)

_FORWARD: dict[str, Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]] = {
    "wgs84": lambda x, y: (np.asarray(x, float), np.asarray(y, float)),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


SHIFT_MIN_REDUCTION = 0.4
SHIFT_MIN_M = 30.0
SHIFT_MIN_POINTS = 5


DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _medians(
    lon: np.ndarray, lat: np.ndarray, cx: np.ndarray, cy: np.ndarray, distance_to_data: DistanceFn
) -> dict[str, Any]:
    """Median distance (m) of the points as given and as converted; whether converting fits much better."""
    if len(lon) < SHIFT_MIN_POINTS:
        return {
            "likely": False,
            "median_m_as_given": float("nan"),
            "median_m_converted": float("nan"),
            "n_points": int(len(lon)),
        }
    given = float(np.nanmedian(np.asarray(distance_to_data(lon, lat), dtype=float)))
    converted = float(np.nanmedian(np.asarray(distance_to_data(np.asarray(cx), np.asarray(cy)), dtype=float)))
    likely = bool(given - converted > SHIFT_MIN_M and converted < (1.0 - SHIFT_MIN_REDUCTION) * given)
    return {
        "likely": likely,
        "median_m_as_given": given,
        "median_m_converted": converted,
        "n_points": int(len(lon)),
    }


def _finite(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float).ravel(), np.asarray(lat, dtype=float).ravel())
    ok = np.isfinite(lon) & np.isfinite(lat)
    return lon[ok], lat[ok]


def detect_gcj02_shift(lon: Any, lat: Any, distance_to_data: DistanceFn) -> dict[str, Any]:
    """Do WGS84-labelled points look like GCJ-02 (高德/腾讯) numbers?

    ``lon``/``lat``: degrees as given. ``distance_to_data(lon, lat)`` returns, per WGS84 point, the
    distance in metres to reference data known to be WGS84 (e.g. the nearest street). Compares the
    median distance as given with the median after :func:`gcj02_to_wgs84`; flagged when converting
    cuts it by more than 40 % and more than 30 m. Needs at least 5 finite points (else never flagged).
    Returns ``{'likely_gcj02', 'median_m_as_given', 'median_m_converted', 'n_points'}``.
    """
    x, y = _finite(lon, lat)
    r = _medians(x, y, *gcj02_to_wgs84(x, y), distance_to_data)
    return {"likely_gcj02": r.pop("likely"), **r}


def detect_bd09_shift(lon: Any, lat: Any, distance_to_data: DistanceFn) -> dict[str, Any]:
    """As :func:`detect_gcj02_shift` for BD-09 (百度) numbers, converting with :func:`bd09_to_wgs84`.
    Returns ``{'likely_bd09', 'median_m_as_given', 'median_m_converted', 'n_points'}``."""
    x, y = _finite(lon, lat)
    r = _medians(x, y, *bd09_to_wgs84(x, y), distance_to_data)
    return {"likely_bd09": r.pop("likely"), **r}


def check_declared_crs(
    gdf_lonlat: gpd.GeoDataFrame, declared: object, distance_to_data: DistanceFn, what: str = "streets"
) -> dict[str, Any]:
    """Raise :class:`CoordinateSystemError` when data read as ``declared`` fits the reference data
    much better read as another of WGS84 / GCJ-02 / BD-09 (e.g. GCJ-02 numbers declared as WGS84).

    ``gdf_lonlat``: what a reader returned (EPSG:4326, already converted from ``declared``); other
    geometries than points are tested at a representative point. The file's numbers are recovered by
    re-applying the declared shift and read as each alternative; thresholds as in
    :func:`detect_gcj02_shift`. ``distance_to_data(lon, lat)`` gives metres to the reference data
    (``what`` names it in the message). Projected declarations are not checked. Returns
    ``{'declared', 'median_m': {reading: metres}, 'n_points'}`` when the declaration looks right.
    """
    key = normalise_crs_name(declared)
    if key not in _FORWARD or len(gdf_lonlat) == 0:
        return {"declared": key, "median_m": {}, "n_points": 0}
    if gdf_lonlat.crs is not None and normalise_crs_name(gdf_lonlat.crs) != "wgs84":
        gdf_lonlat = gdf_lonlat.to_crs(WGS84)
    geoms = gdf_lonlat.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    pts = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    xy = shapely.get_coordinates(pts)
    x, y = _finite(xy[:, 0], xy[:, 1])
    raw_x, raw_y = _FORWARD[key](x, y)  # the numbers as they were in the file
    medians: dict[str, float] = {}
    best: tuple[str, dict[str, Any]] | None = None
    for alt in _FORWARD:
        if alt == key:
            continue
        r = _medians(x, y, *to_wgs84(raw_x, raw_y, alt), distance_to_data)
        medians[key], medians[alt] = r["median_m_as_given"], r["median_m_converted"]
        if r["likely"] and (best is None or r["median_m_converted"] < best[1]["median_m_converted"]):
            best = (alt, r)
    if best is not None:
        alt, r = best
        raise CoordinateSystemError(
            f"looks like {CRS_LABELS[alt]} coordinates declared as {CRS_LABELS[key]}: median distance "
            f"to {what} {r['median_m_as_given']:.0f} m as given, {r['median_m_converted']:.0f} m if read as "
            f"{CRS_LABELS[alt].split(' ')[0]}; pass --crs {alt}"
        )
    log.debug("declared %s checked against %s: median distances %s", key, what, medians)
    return {"declared": key, "median_m": medians, "n_points": int(len(x))}


def check_crs_by_osm_matches(
    gdf: gpd.GeoDataFrame, declared: str, osm: gpd.GeoDataFrame, net: StreetNetwork, *, tol_m: float = 30.0
) -> None:
    """Refuse a facility file whose points match OSM facilities of the same category far better when its
    numbers are read in another of WGS84 / GCJ-02 / BD-09 than as declared (e.g. a 高德 export declared
    as WGS84). Needs at least 5 points of categories OSM has; ``tol_m`` metres counts as a match."""

    key = normalise_crs_name(declared)
    forward = {"wgs84": lambda x, y: (x, y), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}
    if key not in forward or osm.empty:
        return
    sub = gdf[gdf["category"].isin(set(osm["category"]))]
    if len(sub) < 5:
        return
    raw_x, raw_y = forward[key](sub.geometry.x.to_numpy(), sub.geometry.y.to_numpy())  # the file's numbers
    cats = sub["category"].to_numpy()
    trees = {
        c: cKDTree(net.project(g.geometry.x.to_numpy(), g.geometry.y.to_numpy()))
        for c, g in osm.groupby("category")
    }
    matches = {}
    for alt in forward:
        lon, lat = to_wgs84(raw_x, raw_y, alt)
        xy = net.project(lon, lat)
        matches[alt] = sum(int((trees[c].query(xy[cats == c])[0] <= tol_m).sum()) for c in np.unique(cats))
    best = max(matches, key=matches.__getitem__)
    if best != key and matches[best] >= max(3, 0.2 * len(sub)) and matches[best] >= 3 * max(matches[key], 1):
        raise CoordinateSystemError(
            f"looks like {best} coordinates declared as {key}: {matches[best]} of {len(sub)} facilities "
            f"coincide (within {tol_m:.0f} m) with OpenStreetMap facilities of their category when read "
            f"as {best}, {matches[key]} as declared; pass --crs {best}"
        )
