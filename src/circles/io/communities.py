"""Reading a user's community boundaries (GeoJSON, GeoPackage or Shapefile) into polygons in WGS84.

The numbers in the file are read in the declared coordinate system (``'wgs84'``, ``'gcj02'``,
``'bd09'`` or an EPSG code); how it combines with a CRS stored in the file is described in
:mod:`circles.io._lonlat`. Every problem raises a specific error (all subclass ``ValueError``) naming
the file and the offending rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._common import WGS84, BBox, bbox_text
from ..catalog import COMMUNITY_TYPES
from ..errors import DataFileError, OutsideRegionError
from . import _lonlat, _tables
from .coords import normalise_crs_name

__all__ = ["COMMUNITY_ALIASES", "COMMUNITY_COLUMNS", "COMMUNITY_TYPE_ALIASES", "read_communities"]

log = logging.getLogger(__name__)

#: Leading columns of :func:`read_communities` output (then any other attributes, then geometry).
COMMUNITY_COLUMNS = ("community_id", "name", "type", "households", "population", "district")
#: Accepted input column names per output column (any case). Shapefile field names are cut to
#: 10 characters, hence the truncated aliases.
COMMUNITY_ALIASES: _tables.Aliases = {
    "community_id": ("community_id", "community_", "id"),
    "name": ("name",),
    "type": ("type", "community_type"),
    "households": ("households",),
    "population": ("population",),
    "district": ("district",),
}
#: Accepted values of the ``type`` column (lower-cased) -> community type.
COMMUNITY_TYPE_ALIASES = {
    "urban": "urban",
    "城镇": "urban",
    "rural": "rural",
    "乡村": "rural",
    "农村": "rural",
    "industrial": "industrial",
    "产业": "industrial",
}


def read_communities(
    path: str | Path, crs: object = "wgs84", bbox: BBox | None = None, layer: str | int | None = None
) -> gpd.GeoDataFrame:
    """Read community boundaries into a GeoDataFrame of (multi)polygons in WGS84 (EPSG:4326).

    ``path``: GeoJSON, GeoPackage (first layer unless ``layer``) or Shapefile (.shp or .shp.zip);
    ``crs`` as for :func:`circles.io.facilities.read_facilities`. Columns: ``community_id`` (or
    ``id``; required, unique), ``name`` (default: the id), ``type`` in urban/rural/industrial
    (城镇/乡村/产业 accepted; 'urban' when the column is absent), ``households`` and ``population``
    (numbers >= 0, NaN when blank or absent), ``district`` (None when absent); other columns are kept
    after these.

    Invalid polygons are repaired with ``shapely.make_valid`` (logged warning); empty or non-polygon
    geometries raise :class:`DataFileError`. With ``bbox`` (WGS84 degrees) a community entirely
    outside raises :class:`OutsideRegionError`; one partly outside is logged.
    """
    path = Path(path)
    declared = normalise_crs_name(crs)
    gdf = _tables.read_file(path, layer, "communities", tables=False)
    cols = _tables.find_columns(gdf.columns, COMMUNITY_ALIASES)
    rows = _tables.Rows(path)
    ids = _community_ids(gdf, cols["community_id"], rows)  # also labels the rows in messages

    polygons = _community_polygons(gdf.geometry.to_numpy().copy(), rows)
    geoms, key = _lonlat.read_as_lonlat(polygons, declared, gdf.crs, rows)
    still = ~shapely.is_valid(geoms)  # a conversion can bend a valid ring by a hair
    if still.any():
        _lonlat.repair_polygons(geoms, still)
        log.debug("%s: repaired %d polygons after conversion to WGS84", path, int(still.sum()))

    ctype = _community_types(gdf, cols["type"], rows)
    households = _tables.non_negative(gdf, cols["households"], rows)
    population = _tables.non_negative(gdf, cols["population"], rows)
    names = _tables.optional_strings(gdf, cols["name"])
    out = gpd.GeoDataFrame(
        {
            "community_id": ids,
            "name": np.where(pd.isna(names), ids, names),
            "type": ctype,
            "households": households,
            "population": population,
            "district": _tables.optional_strings(gdf, cols["district"]),
            **_tables.extra_columns(gdf, cols, COMMUNITY_COLUMNS),
        },
        geometry=geoms,
        crs=WGS84,
    )
    if bbox is not None:
        _check_in_region(geoms, bbox, rows)
    out.attrs.update(source_file=str(path), crs_read_as=key)
    log.info("%s: %d communities read (coordinates read as %s)", path, len(out), key)
    return out


def _community_ids(gdf: gpd.GeoDataFrame, col: object, rows: _tables.Rows) -> np.ndarray:
    """The required, unique ids; a :class:`DataFileError` for a missing column, blank or duplicates."""
    if col is None:
        raise rows.fail(
            DataFileError,
            f"no 'community_id' (or 'id') column (columns found: {_tables.attribute_names(gdf)})",
        )
    ids = _tables.strings(gdf[col])
    rows.labels = ids
    if pd.isna(ids).any():
        raise rows.fail(DataFileError, f"blank {col!r}", pd.isna(ids))
    dup, values = _tables.duplicated(ids)
    if dup.any():
        raise rows.fail(
            DataFileError, f"duplicate community ids {_tables.listing([repr(v) for v in values])}", dup
        )
    return ids


def _community_polygons(geoms: np.ndarray, rows: _tables.Rows) -> np.ndarray:
    """``geoms`` checked to be (multi)polygons, invalid ones repaired in place (logged)."""
    _lonlat.require_geometry(geoms, rows)
    kind = shapely.get_type_id(geoms)
    bad = ~np.isin(kind, (3, 6))
    if bad.any():
        raise rows.fail(
            DataFileError, f"communities must be polygons, got {_lonlat.type_names(kind[bad])}", bad
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = [shapely.is_valid_reason(g) for g in geoms[invalid][:3]]
        _lonlat.repair_polygons(geoms, invalid)
        log.warning(
            "%s: repaired %d invalid polygons with make_valid (%s; e.g. %s)",
            rows.path,
            int(invalid.sum()),
            rows.where(invalid),
            "; ".join(reasons),
        )
        emptied = shapely.is_empty(geoms)
        if emptied.any():
            raise rows.fail(DataFileError, "polygons with no area left after repair", emptied)
    return geoms


def _community_types(gdf: gpd.GeoDataFrame, col: object, rows: _tables.Rows) -> np.ndarray:
    """Community types from :data:`COMMUNITY_TYPE_ALIASES`; all 'urban' when the file has no column."""
    if col is None:
        log.info("%s: no 'type' column; all communities taken as urban", rows.path)
        return np.full(len(gdf), "urban", dtype=object)
    raw = _tables.strings(gdf[col])
    ctype = np.array(
        [COMMUNITY_TYPE_ALIASES.get(v.lower()) if isinstance(v, str) else None for v in raw], dtype=object
    )
    bad = pd.isna(ctype)
    if bad.any():
        values = _tables.listing([repr(v) for v in dict.fromkeys(raw[bad])])
        raise rows.fail(
            DataFileError, f"community type must be one of {', '.join(COMMUNITY_TYPES)} (got {values})", bad
        )
    return ctype


def _check_in_region(geoms: np.ndarray, bbox: BBox, rows: _tables.Rows) -> None:
    """:class:`OutsideRegionError` for communities entirely outside ``bbox`` (WGS84 degrees); a logged
    warning for those partly outside."""
    outside = _lonlat.outside(geoms, bbox)
    if outside.any():
        raise rows.fail(OutsideRegionError, f"communities outside the region {bbox_text(bbox)}", outside)
    x0, y0, x1, y1 = (float(v) for v in bbox)
    partly = ~shapely.within(geoms, shapely.box(x0, y0, x1, y1))
    if partly.any():
        log.warning(
            "%s: communities partly outside the region %s (residents there cannot be routed): %s",
            rows.path,
            bbox_text(bbox),
            rows.where(partly),
        )
