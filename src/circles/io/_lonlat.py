"""Shared internals of the user-file readers: geometry checks, the coordinate system a file's numbers
are read in, their conversion to WGS84 lon/lat, and the region check.

Private to :mod:`circles.io`; its names are public within it and the readers import it by module name
(``from . import _lonlat``).

The coordinates in a file are read in the *declared* coordinate system: ``'wgs84'`` (also CGCS2000),
``'gcj02'`` (高德/腾讯 exports), ``'bd09'`` (百度) or an EPSG code such as ``'EPSG:32648'`` (UTM 48N,
metres), and converted with :func:`circles.io.coords.to_wgs84`. How the declaration and a CRS stored in
the file combine (:func:`resolve_crs`):

* the file says WGS84/CGCS2000 (every GeoJSON does, and Chinese POI exports store GCJ-02 numbers
  under a "WGS84" label) -> the declaration wins;
* the file carries another CRS (e.g. a GeoPackage in EPSG:32648) -> that CRS is used when the
  declaration is the default ``'wgs84'``; a different EPSG declaration overrides it (logged);
  ``'gcj02'``/``'bd09'`` declared for a projected file is a :class:`CoordinateSystemError`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from .._common import BBox, bbox_text
from ..errors import CoordinateSystemError, DataFileError, InputError, OutsideRegionError
from . import _tables
from .coords import CRS_LABELS, normalise_crs_name, to_wgs84

log = logging.getLogger(__name__)

#: What a reader may do with records outside the region: raise, or drop them (logged).
ON_OUTSIDE = ("error", "drop")


# --- geometry ------------------------------------------------------------------------------------


def require_geometry(geoms: np.ndarray, rows: _tables.Rows) -> None:
    """A :class:`DataFileError` naming the records whose geometry is missing or empty."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise rows.fail(DataFileError, "missing or empty geometry", missing)


def type_names(type_ids: np.ndarray) -> str:
    """'linestring, point' for shapely geometry type ids, for messages."""
    return ", ".join(shapely.GeometryType(t).name.lower() for t in sorted(set(type_ids.tolist())))


def polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """The (multi)polygon part of ``geom`` (e.g. of a make_valid result); an empty Polygon if none."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def repair_polygons(geoms: np.ndarray, mask: np.ndarray) -> None:
    """Replace ``geoms[mask]`` (in place) by the polygonal part of their ``make_valid`` repair."""
    geoms[mask] = [polygonal_part(g) for g in shapely.make_valid(geoms[mask])]


# --- coordinate systems --------------------------------------------------------------------------


def is_geographic(key: str) -> bool:
    """Whether a normalised CRS key has lon/lat degrees (WGS84, GCJ-02, BD-09, geographic EPSG)."""
    return key in CRS_LABELS or bool(pyproj.CRS.from_user_input(key).is_geographic)


def resolve_crs(declared: str, file_crs: Any, path: Path) -> str:
    """The coordinate system the file's numbers are in (see the module docstring)."""
    if file_crs is None:
        return declared
    try:
        stored = normalise_crs_name(file_crs)
    except CoordinateSystemError as e:
        raise CoordinateSystemError(f"{path}: the file's coordinate system is not usable: {e}") from e
    if stored == "wgs84" or stored == declared:
        if stored != declared:
            log.info("%s: file says WGS84, reading its coordinates as declared %s", path, declared)
        return declared
    if declared == "wgs84":
        log.info("%s: using the file's coordinate system %s", path, stored)
        return stored
    if declared in ("gcj02", "bd09"):
        raise CoordinateSystemError(
            f"{path}: the file carries the projected coordinate system {stored} but {declared} "
            f"(lon/lat degrees) was declared; declare --crs {stored} or fix the file's CRS"
        )
    log.warning("%s: file carries %s, reading it as declared %s", path, stored, declared)
    return declared


def check_coordinates(xy_min: np.ndarray, xy_max: np.ndarray, key: str, rows: _tables.Rows) -> None:
    """Geographic ``key``: every coordinate valid lon/lat. Projected: not all of them look like
    degrees. ``xy_min``/``xy_max``: (n, 2) lower-left and upper-right corners of the geometries."""
    finite = np.isfinite(xy_min).all(axis=1) & np.isfinite(xy_max).all(axis=1)
    if not finite.all():
        raise rows.fail(DataFileError, "non-finite coordinates", ~finite)
    if is_geographic(key):
        bad = (xy_min[:, 0] < -180) | (xy_max[:, 0] > 180) | (xy_min[:, 1] < -90) | (xy_max[:, 1] > 90)
        if bad.any():
            hint = (
                "; these look like projected coordinates (metres): declare their CRS, e.g. --crs EPSG:32648"
                if bad.all()
                else ""
            )
            raise rows.fail(
                OutsideRegionError,
                f"longitude/latitude out of range (lon -180..180, lat -90..90; read as {key})",
                bad,
                hint,
            )
    elif (np.abs(xy_min) <= 180).all() and (np.abs(xy_max) <= 180).all():
        raise CoordinateSystemError(
            f"{rows.path}: coordinates look like longitude/latitude degrees but are read as {key} "
            "(projected); declare --crs wgs84, gcj02 or bd09"
        )


def to_lonlat(geoms: np.ndarray, key: str, rows: _tables.Rows) -> np.ndarray:
    """Geometries in ``key`` -> WGS84 lon/lat (2D), with a check that all came out finite."""
    if key != "wgs84":

        def f(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(to_wgs84(coords[:, 0], coords[:, 1], key))

        geoms = shapely.transform(geoms, f)
    b = shapely.bounds(geoms)
    bad = ~np.isfinite(b).all(axis=1)
    if bad.any():
        raise rows.fail(CoordinateSystemError, f"coordinates cannot be converted from {key} to WGS84", bad)
    return geoms


def read_as_lonlat(
    geoms: np.ndarray, declared: str, file_crs: Any, rows: _tables.Rows
) -> tuple[np.ndarray, str]:
    """The geometries of a file in WGS84 lon/lat, and the key of the CRS their numbers were read in:
    :func:`resolve_crs`, then :func:`check_coordinates` on their bounds, then :func:`to_lonlat`."""
    key = resolve_crs(declared, file_crs, rows.path)
    b = shapely.bounds(geoms)
    check_coordinates(b[:, :2], b[:, 2:], key, rows)
    return to_lonlat(geoms, key, rows), key


# --- the region ----------------------------------------------------------------------------------


def check_on_outside(on_outside: str) -> None:
    """An :class:`InputError` unless ``on_outside`` is one of :data:`ON_OUTSIDE`."""
    if on_outside not in ON_OUTSIDE:
        raise InputError(f"on_outside must be 'error' or 'drop' (got {on_outside!r})")


def outside(geoms: np.ndarray, bbox: BBox) -> np.ndarray:
    """Mask of the WGS84 geometries that do not touch ``bbox`` at all."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return ~shapely.intersects(geoms, shapely.box(x0, y0, x1, y1))


def outside_rows(
    out: gpd.GeoDataFrame, bbox: BBox | None, on_outside: str, rows: _tables.Rows, what: str
) -> gpd.GeoDataFrame:
    """Rows outside ``bbox`` (WGS84 degrees): :class:`OutsideRegionError` naming them, or dropped with a
    logged warning when ``on_outside='drop'``."""
    if bbox is None:
        return out
    away = outside(out.geometry.to_numpy(), bbox)
    if not away.any():
        return out
    msg = f"{int(away.sum())} {what} outside the region {bbox_text(bbox)}"
    if on_outside == "error":
        raise rows.fail(OutsideRegionError, msg, away)
    log.warning("%s: dropping %s: %s", rows.path, msg, rows.where(away))
    return out[~away].reset_index(drop=True)
