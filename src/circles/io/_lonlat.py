"""Shared internals of the user-file readers: geometry checks, the coordinate system a file's numbers
are read in, their conversion to WGS84 lon/lat, and the region check.

Private to :mod:`circles.io`; its names are public within it and the readers import it by module name
(``from . import _lonlat``).

Every input file carries its own coordinate system (:mod:`circles.io.file_spec`): ``'wgs84'`` (also
CGCS2000, EPSG:4490), ``'gcj02'`` (高德/腾讯 exports), ``'bd09'`` (百度) or an EPSG code such as
``'EPSG:4547'`` (CGCS2000 Gauss–Krüger, metres); numbers are converted with
:func:`circles.io.coords.to_wgs84`. How a declaration and the CRS a file stores combine
(:func:`resolve_crs`):

* declared -> the declaration wins (an override: Chinese POI exports store GCJ-02 numbers under a
  "WGS84" label, and every GeoJSON says WGS84), logged when it differs from the file's; except that
  lon/lat degrees (``wgs84``, ``gcj02``, ``bd09``, a geographic EPSG) declared for a file that stores a
  projected CRS (x/y in metres) is a :class:`CoordinateSystemError`: one of the two is wrong;
* not declared -> the CRS the file stores (GeoPackage, Shapefile with .prj; GeoJSON is WGS84 by
  RFC 7946); a file that stores none (a CSV or Excel table, a Shapefile without .prj) is refused with a
  :class:`CoordinateSystemError` naming the choices: guessing would move points by hundreds of metres.

Readers record the outcome in ``gdf.attrs`` (:func:`crs_attrs`): ``crs_read_as`` (the key used),
``crs_declared`` (the declaration or None) and ``crs_from`` (``'declared'`` or ``'file'``).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from .._common import BBox, bbox_text
from ..errors import CoordinateSystemError, DataFileError, InputError, OutsideRegionError
from . import _tables
from .coords import CRS_LABELS, normalise_crs_name, to_wgs84
from .file_spec import CRS_CHOICES, FileSpec

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


def undeclared_crs_error(rows: _tables.Rows) -> CoordinateSystemError:
    """The refusal of a file that neither declares nor stores its coordinate system: names the file,
    the choices, and how to declare one."""
    example = FileSpec(rows.path, "gcj02", rows.part)
    return CoordinateSystemError(
        f"{rows.source}: no coordinate system declared. A CSV or Excel table (or a Shapefile without "
        f".prj) does not say which system its numbers are in, and a wrong guess moves every point by "
        f"hundreds of metres. Declare it after the file name, e.g. {example} (in Python: crs='gcj02'); "
        f"choices: {CRS_CHOICES}"
    )


def stored_crs(file_crs: Any, declared: str | None, rows: _tables.Rows) -> str | None:
    """The key of the CRS a file stores (None: none, or unusable and overridden by ``declared``); a
    CRS equal to WGS84 but for axis order (OGC:CRS84) is ``'wgs84'``."""
    if file_crs is None:
        return None
    try:
        key = normalise_crs_name(file_crs)
    except CoordinateSystemError as e:
        if declared is None:
            raise CoordinateSystemError(
                f"{rows.source}: the file's coordinate system is not usable ({e}); declare one: {CRS_CHOICES}"
            ) from e
        log.warning("%s: the file's coordinate system is not usable (%s); using %s", rows.source, e, declared)
        return None
    if key != "wgs84" and pyproj.CRS.from_user_input(file_crs).equals("EPSG:4326", ignore_axis_order=True):
        return "wgs84"
    return key


def resolve_crs(declared: str | None, file_crs: Any, rows: _tables.Rows) -> tuple[str, str]:
    """The key of the coordinate system the file's numbers are in, and where it came from
    (``'declared'`` or ``'file'``); see the module docstring."""
    stored = stored_crs(file_crs, declared, rows)
    if declared is None:
        if stored is None:
            raise undeclared_crs_error(rows)
        log.info("%s: using the file's coordinate system %s", rows.source, stored)
        return stored, "file"
    if stored is not None and stored != declared:
        if is_geographic(declared) and not is_geographic(stored):
            raise CoordinateSystemError(
                f"{rows.source}: the file stores the projected coordinate system {stored} (x/y in metres) "
                f"but {declared} (longitude/latitude degrees) was declared; leave it undeclared to use the "
                f"file's, or declare {stored}"
            )
        level = logging.INFO if stored == "wgs84" else logging.WARNING
        log.log(
            level,
            "%s: the file says %s; reading its coordinates as declared, %s",
            rows.source,
            stored,
            declared,
        )
    return declared, "declared"


def crs_attrs(declared: str | None, key: str, origin: str) -> dict[str, str | None]:
    """What a reader records in ``gdf.attrs`` about the coordinate system (see the module docstring)."""
    return {"crs_read_as": key, "crs_declared": declared, "crs_from": origin}


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
                "; these look like projected coordinates (metres): declare their EPSG code after the file "
                f"name, e.g. {FileSpec(rows.path, 'EPSG:4547', rows.part)} (CGCS2000 Gauss–Krüger) or "
                "FILE:EPSG:32648 (UTM 48N)"
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
            f"{rows.source}: coordinates look like longitude/latitude degrees but are read as {key} "
            f"(projected x/y in metres); declare the system they are in, e.g. "
            f"{FileSpec(rows.path, 'wgs84', rows.part)}, :gcj02 or :bd09"
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
    geoms: np.ndarray, declared: str | None, file_crs: Any, rows: _tables.Rows
) -> tuple[np.ndarray, dict[str, str | None]]:
    """The geometries of a file in WGS84 lon/lat, and :func:`crs_attrs` of how they were read:
    :func:`resolve_crs`, then :func:`check_coordinates` on their bounds, then :func:`to_lonlat`."""
    key, origin = resolve_crs(declared, file_crs, rows)
    b = shapely.bounds(geoms)
    check_coordinates(b[:, :2], b[:, 2:], key, rows)
    return to_lonlat(geoms, key, rows), crs_attrs(declared, key, origin)


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
    logged warning naming them when ``on_outside='drop'``. A file with every row outside is an error
    either way: it is the wrong file, or its coordinate system is wrong."""
    if bbox is None:
        return out
    away = outside(out.geometry.to_numpy(), bbox)
    if not away.any():
        return out
    msg = f"{int(away.sum())} {what} outside the region {bbox_text(bbox)}"
    if on_outside == "error":
        raise rows.fail(OutsideRegionError, msg, away)
    if away.all():
        raise rows.fail(
            OutsideRegionError,
            f"all {len(away)} {what} are outside the region {bbox_text(bbox)} (the wrong file, or the wrong "
            "coordinate system?)",
            away,
        )
    log.warning("%s: dropping %s: %s", rows.source, msg, rows.where(away))
    return out[~away].reset_index(drop=True)
