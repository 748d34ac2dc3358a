"""Conversion between WGS84, GCJ-02 (Amap/Tencent "Mars" coordinates) and BD-09 (Baidu).

OSM and GPS data are WGS84 (EPSG:4326; CGCS2000, EPSG:4490, agrees within a metre). Maps and
facility lists from 高德/腾讯 use GCJ-02, which adds a deliberate, smoothly varying offset computed on
the Krasovsky ellipsoid; 百度 adds a further rotation/shift on top of that (BD-09). In Chengdu the
GCJ-02 offset is about 250-500 m, and BD-09 is further off still, so a facility list must always be
converted before it is used with WGS84 data. The offset only applies inside a rough bounding box of
mainland China; outside it GCJ-02 equals WGS84 by definition.

All functions take longitudes/latitudes in decimal degrees, as scalars or numpy-broadcastable
arrays, and return degrees: numpy float64 arrays of the broadcast shape (numpy float64 scalars for
scalar input). GCJ-02 -> WGS84 has no closed form; it is solved by fixed-point iteration to better
than 1e-9 degrees (about 0.1 mm).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CoordinateSystemError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pyproj

__all__ = [
    "CRS_LABELS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalise_crs_name",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

log = logging.getLogger(__name__)

_A = 6378245.0  # Krasovsky 1940 semi-major axis, metres
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant
_CHINA_BBOX = (72.004, 137.8347, 0.8293, 55.8271)  # lon_min, lon_max, lat_min, lat_max
_MAX_ITER = 10
_TOL_DEG = 1e-9

_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs 84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "wgs84",
    "epsg:4490": "wgs84",
    "4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
}
_ACCEPTED = (
    "'wgs84' (aliases 'epsg:4326', '4326', 'cgcs2000', 'epsg:4490'), 'gcj02', 'bd09', "
    "or an EPSG code / pyproj CRS string such as 'EPSG:32648'"
)

Float = NDArray[np.float64]


def _prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    try:
        x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InputError(f"lon/lat must be numeric and of broadcastable shapes: {exc}") from exc
    return x.copy(), y.copy()


def _out(x: Float, y: Float) -> tuple[Float, Float]:
    return x[()], y[()]  # 0-d arrays become numpy float64 scalars


def _in_china(lon: Float, lat: Float) -> NDArray[np.bool_]:
    x0, x1, y0, y1 = _CHINA_BBOX
    return np.isfinite(lon) & np.isfinite(lat) & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_delta(lon: Float, lat: Float) -> tuple[Float, Float]:
    """GCJ-02 minus WGS84 (degrees) at WGS84 point (lon, lat), no bounding-box test."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """WGS84 (EPSG:4326) lon/lat in degrees -> GCJ-02 lon/lat in degrees (Amap/Tencent).

    Also used to shift WGS84 layers onto an Amap (GCJ-02) base map. Points outside the China
    bounding box (and non-finite values) are returned unchanged.
    """
    x, y = _prepare(lon, lat)
    m = _in_china(x, y)
    dx, dy = _gcj_delta(x[m], y[m])
    x[m] += dx
    y[m] += dy
    return _out(x, y)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """GCJ-02 lon/lat in degrees -> WGS84 (EPSG:4326) lon/lat in degrees.

    Inverts the forward formula by fixed-point iteration (w <- w - (f(w) - g)) starting from the
    one-step approximation, until every point moves less than 1e-9 degrees (max 10 iterations).
    Points outside the China bounding box (and non-finite values) are returned unchanged.
    """
    x, y = _prepare(lon, lat)
    m = _in_china(x, y)
    gx, gy = x[m], y[m]
    dx, dy = _gcj_delta(gx, gy)
    wx, wy = gx - dx, gy - dy
    for _ in range(_MAX_ITER):
        dx, dy = _gcj_delta(wx, wy)
        ex, ey = wx + dx - gx, wy + dy - gy
        wx, wy = wx - ex, wy - ey
        if wx.size == 0 or max(np.abs(ex).max(), np.abs(ey).max()) < _TOL_DEG:
            break
    else:
        log.warning("gcj02_to_wgs84 did not converge to %g degrees in %d iterations", _TOL_DEG, _MAX_ITER)
    x[m], y[m] = wx, wy
    return _out(x, y)


def _gcj02_to_bd09_raw(x: Float, y: Float) -> tuple[Float, Float]:
    with np.errstate(invalid="ignore"):  # sin/cos(inf) -> nan, no warning
        z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """GCJ-02 lon/lat in degrees -> BD-09 lon/lat in degrees (Baidu), the published formula."""
    return _out(*_gcj02_to_bd09_raw(*_prepare(lon, lat)))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """BD-09 lon/lat in degrees (Baidu) -> GCJ-02 lon/lat in degrees.

    Uses the published approximate inverse (error ~1e-7 degrees), refined by fixed-point
    iteration against :func:`gcj02_to_bd09` to better than 1e-9 degrees.
    """
    bx, by = _prepare(lon, lat)
    x, y = bx - 0.0065, by - 0.006
    with np.errstate(invalid="ignore"):
        z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    ok = np.isfinite(gx) & np.isfinite(gy)
    for _ in range(_MAX_ITER):
        fx, fy = _gcj02_to_bd09_raw(gx, gy)
        ex, ey = np.where(ok, fx - bx, 0.0), np.where(ok, fy - by, 0.0)
        gx, gy = gx - ex, gy - ey
        if ex.size == 0 or max(np.abs(ex).max(), np.abs(ey).max()) < _TOL_DEG:
            break
    return _out(gx, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """WGS84 (EPSG:4326) lon/lat in degrees -> BD-09 lon/lat in degrees (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Float, Float]:
    """BD-09 lon/lat in degrees (Baidu) -> WGS84 (EPSG:4326) lon/lat in degrees (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def normalise_crs_name(crs: object) -> str:
    """Canonical key of a coordinate system name: 'wgs84', 'gcj02', 'bd09' or 'EPSG:xxxx'.

    Accepts the aliases listed in the error message, EPSG codes (int or str, e.g. 32648,
    'epsg:4547'), any string/object pyproj understands. A CRS without an EPSG code is returned
    as its pyproj string form. Raises CoordinateSystemError for anything else.
    """
    import pyproj

    key = str(crs).strip().lower() if isinstance(crs, (str, int)) and not isinstance(crs, bool) else None
    if key is not None and key in _ALIASES:
        return _ALIASES[key]
    if key == "" or crs is None or isinstance(crs, bool):
        raise CoordinateSystemError(f"unknown coordinate system {crs!r}; accepted: {_ACCEPTED}")
    try:
        obj = pyproj.CRS.from_user_input(f"EPSG:{key}" if key is not None and key.isdigit() else crs)
    except pyproj.exceptions.CRSError as exc:
        raise CoordinateSystemError(f"unknown coordinate system {crs!r}; accepted: {_ACCEPTED}") from exc
    code = obj.to_epsg()
    if code in (4326, 4490):
        return "wgs84"
    return f"EPSG:{code}" if code is not None else obj.to_string()


@lru_cache(maxsize=32)
def _transformer(src: str) -> pyproj.Transformer:
    """A cached transformer from ``src`` to WGS84 lon/lat (x = longitude)."""
    import pyproj

    return pyproj.Transformer.from_crs(src, "EPSG:4326", always_xy=True)


def to_wgs84(x: ArrayLike, y: ArrayLike, crs: object) -> tuple[Float, Float]:
    """Convert coordinates in ``crs`` to WGS84 (EPSG:4326) lon/lat in degrees.

    ``x``/``y`` are lon/lat in degrees for 'wgs84', 'gcj02', 'bd09' and geographic EPSG codes,
    or easting/northing in the CRS's units (e.g. metres for EPSG:32648, UTM 48N) otherwise.
    Returns (lon, lat) as numpy float64 arrays (scalars for scalar input).
    Raises CoordinateSystemError for an unknown ``crs``.
    """
    key = normalise_crs_name(crs)
    if key == "wgs84":
        return _out(*_prepare(x, y))
    if key == "gcj02":
        return gcj02_to_wgs84(x, y)
    if key == "bd09":
        return bd09_to_wgs84(x, y)
    xs, ys = _prepare(x, y)
    import pyproj

    try:
        lon, lat = _transformer(key).transform(xs, ys)
    except pyproj.exceptions.ProjError as exc:  # e.g. a CRS of another planet: no way to WGS84
        raise CoordinateSystemError(f"cannot convert {key} coordinates to WGS84: {exc}") from exc
    return _out(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))


#: Display names of the lon/lat systems a file may be declared in.
CRS_LABELS = {"wgs84": "WGS84", "gcj02": "GCJ-02 (高德/腾讯)", "bd09": "BD-09 (百度)"}
