"""Reading a user's facility list (GeoJSON, GeoPackage, Shapefile or CSV) into points in WGS84.

The numbers in the file are read in the declared coordinate system (``'wgs84'``, ``'gcj02'``,
``'bd09'`` or an EPSG code); how it combines with a CRS stored in the file is described in
:mod:`circles.io._lonlat`. Every problem raises a specific error (all subclass ``ValueError``) naming
the file and the offending rows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._common import WGS84, BBox
from ..catalog import Catalog, load_catalog
from ..errors import DataFileError, UnknownCategoryError
from . import _lonlat, _tables
from .coords import normalise_crs_name

__all__ = ["FACILITY_ALIASES", "FACILITY_COLUMNS", "read_facilities"]

log = logging.getLogger(__name__)

#: Leading columns of :func:`read_facilities` output (then any other attributes, then geometry).
FACILITY_COLUMNS = ("facility_id", "category", "name", "floor_area_m2", "source")
#: Accepted input column names per output column (any case). Shapefile field names are cut to
#: 10 characters, hence the truncated aliases.
FACILITY_ALIASES: _tables.Aliases = {
    "facility_id": ("facility_id", "facility_i"),
    "category": ("category",),
    "name": ("name",),
    "floor_area_m2": ("floor_area_m2", "floor_area"),
    "source": ("source",),
}


def read_facilities(
    path: str | Path,
    crs: object = "wgs84",
    catalog: Catalog | None = None,
    bbox: BBox | None = None,
    on_outside: str = "error",
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read a facility list into a GeoDataFrame of points in WGS84 (EPSG:4326, lon/lat degrees).

    ``path``: GeoJSON, GeoPackage (first layer unless ``layer``), Shapefile (.shp or .shp.zip) or
    CSV (UTF-8 or GB18030) with longitude/latitude columns named lon/lng/longitude/x and
    lat/latitude/y (any case). ``crs``: coordinate system of the numbers, see :mod:`circles.io._lonlat`.

    Columns: ``category`` (required, a key of ``catalog``, default :func:`load_catalog`), ``name``,
    ``floor_area_m2`` (m², a number >= 0 or blank), ``facility_id`` (unique; blank ones become
    ``'<file stem>:<row>'``) and ``source`` (default ``'user'``); other columns are kept after these.
    Polygon facilities are placed at a representative point. ``bbox`` (lon_min, lat_min, lon_max,
    lat_max, WGS84 degrees): facilities outside raise :class:`OutsideRegionError`, or are dropped with
    a logged warning when ``on_outside='drop'``.

    Raises :class:`DataFileError` (unreadable or unsupported file, missing column, bad geometry or
    value), :class:`UnknownCategoryError`, :class:`OutsideRegionError` (invalid lon/lat, outside
    ``bbox``) or :class:`CoordinateSystemError`.
    """
    path = Path(path)
    _lonlat.check_on_outside(on_outside)
    declared = normalise_crs_name(crs)
    catalog = catalog if catalog is not None else load_catalog()
    gdf = _tables.read_file(path, layer, "facilities", tables=True)
    cols = _tables.find_columns(gdf.columns, FACILITY_ALIASES)
    rows = _tables.Rows(path)
    if cols["category"] is None:
        raise rows.fail(
            DataFileError,
            f"no 'category' column (columns found: {_tables.attribute_names(gdf)}); "
            f"each facility needs a category, one of: {', '.join(catalog)}",
        )
    ids = _tables.optional_strings(gdf, cols["facility_id"])
    names = _tables.optional_strings(gdf, cols["name"])
    rows.labels = np.where(pd.notna(ids), ids, names)

    points = _facility_points(gdf.geometry.to_numpy(), rows)
    geoms, key = _lonlat.read_as_lonlat(points, declared, gdf.crs, rows)
    category = _categories(gdf[cols["category"]], catalog, rows)
    area = _tables.non_negative(gdf, cols["floor_area_m2"], rows, "m²")
    ids = _facility_ids(ids, rows, has_column=cols["facility_id"] is not None)
    source = _tables.optional_strings(gdf, cols["source"])
    source[pd.isna(source)] = "user"

    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.astype(object),
            "category": category,
            "name": np.where(pd.isna(names), "", names),
            "floor_area_m2": area,
            "source": source,
            **_tables.extra_columns(gdf, cols, FACILITY_COLUMNS),
        },
        geometry=geoms,
        crs=WGS84,
    )
    out = _lonlat.outside_rows(out, bbox, on_outside, rows, "facilities")
    out.attrs.update(source_file=str(path), crs_read_as=key)
    log.info("%s: %d facilities read (coordinates read as %s)", path, len(out), key)
    return out


def _facility_points(geoms: np.ndarray, rows: _tables.Rows) -> np.ndarray:
    """Points as they are; single-part multipoints unwrapped; polygons -> representative point."""
    _lonlat.require_geometry(geoms, rows)
    kind = shapely.get_type_id(geoms)
    nparts = shapely.get_num_geometries(geoms)
    single_multi = (kind == 4) & (nparts == 1)
    polygonal = (kind == 3) | (kind == 6)
    bad = ~((kind == 0) | single_multi | polygonal)
    if bad.any():
        names = _lonlat.type_names(shapely.get_type_id(geoms[bad]))
        raise rows.fail(DataFileError, f"facilities must be points or polygons, got {names}", bad)
    out = geoms.copy()
    out[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    if polygonal.any():
        poly = geoms[polygonal]
        invalid = ~shapely.is_valid(poly)
        poly[invalid] = shapely.make_valid(poly[invalid])
        out[polygonal] = shapely.point_on_surface(poly)
        log.info(
            "%s: %d polygon facilities placed at a representative point inside the polygon (%s)",
            rows.path,
            int(polygonal.sum()),
            rows.where(polygonal),
        )
    xy = shapely.get_coordinates(out)
    if len(xy) != len(out) or not np.isfinite(xy).all():
        bad = ~np.isfinite(shapely.bounds(out)).all(axis=1)
        raise rows.fail(DataFileError, "missing or non-numeric coordinates", bad)
    return out


def _categories(values: pd.Series, catalog: Catalog, rows: _tables.Rows) -> np.ndarray:
    """Lower-cased category keys; an :class:`UnknownCategoryError` naming every unknown (or blank)
    value and its rows."""
    category = np.array(
        [c.lower() if isinstance(c, str) else c for c in _tables.strings(values)], dtype=object
    )
    unknown = np.array([c not in catalog for c in category])
    if not unknown.any():
        return category
    bad_values: list[Any] = list(dict.fromkeys(category[unknown]))
    parts = [
        f"{v!r} in {rows.where(category == v)}"
        if v is not None
        else f"blank in {rows.where(pd.isna(category))}"
        for v in bad_values[: _tables.MAX_LISTED]
    ]
    more = (
        f" … and {len(bad_values) - _tables.MAX_LISTED} more" if len(bad_values) > _tables.MAX_LISTED else ""
    )
    raise UnknownCategoryError(
        f"{rows.path}: unknown facility categories: {'; '.join(parts)}{more}; "
        f"known categories: {', '.join(catalog)}"
    )


def _facility_ids(ids: np.ndarray, rows: _tables.Rows, *, has_column: bool) -> np.ndarray:
    """Ids with blank ones filled (``'<file stem>:<row>'``); a :class:`DataFileError` for duplicates."""
    ids, filled = _tables.fill_blank_ids(ids, rows.path)
    if filled and has_column:
        log.info("%s: %d facilities without an id got '<file>:<row>' ids", rows.path, filled)
    dup, values = _tables.duplicated(ids)
    if dup.any():
        raise rows.fail(
            DataFileError, f"duplicate facility ids {_tables.listing([repr(v) for v in values])}", dup
        )
    return ids
