"""Reading a user's community boundaries (GeoJSON, GeoPackage or Shapefile) into polygons in WGS84.

Each row is one planning unit (a 小区 compound or a 社区); its ``community`` (社区), ``street`` (街道)
and ``district`` (区) columns name the units it rolls up into (:mod:`circles.planning.rollup`).
Every file carries its own coordinate system (see :mod:`circles.io.file_spec` and
:mod:`circles.io._lonlat`); headers may be Chinese or English (:data:`COMMUNITY_ALIASES`). Every
problem raises a specific error (all subclass ``ValueError``) naming the file and the offending rows.
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
from . import _files, _lonlat, _tables
from .file_spec import FileSpec

__all__ = [
    "COMMUNITY_ALIASES",
    "COMMUNITY_COLUMNS",
    "COMMUNITY_SCHEMA",
    "COMMUNITY_TYPE_ALIASES",
    "read_communities",
]

log = logging.getLogger(__name__)

#: Leading columns of :func:`read_communities` output (then any other attributes, then geometry).
COMMUNITY_COLUMNS = (
    "community_id",
    "name",
    "type",
    "households",
    "population",
    "district",
    "community",
    "street",
)
#: Accepted input headers per output column, first found wins (any case, spaces, full-width forms or a
#: trailing note in brackets such as ``户数（户）``). Shapefile field names are cut to 10 characters,
#: hence the truncated aliases.
COMMUNITY_ALIASES: _tables.Aliases = {
    "community_id": (
        "community_id",
        "community_",
        "id",
        "编号",
        "小区编号",
        "社区编号",
        "代码",
        "编码",
        "序号",
    ),
    "name": ("name", "名称", "小区名称", "小区", "小区名", "名字"),
    "type": ("type", "community_type", "社区类型", "城乡类型", "社区类别"),
    "households": ("households", "户数", "住户数", "常住户数", "总户数", "居民户数"),
    "population": ("population", "常住人口", "人口", "人口数", "总人口", "居民人数", "户籍人口"),
    "district": ("district", "所属区", "区", "区县", "所属区县", "区(市)县", "区市县"),
    "community": ("community", "所属社区", "社区", "社区名称"),
    "street": ("street", "所属街道", "街道", "街道办", "镇街", "乡镇街道", "乡镇(街道)"),
}
#: Accepted values of the ``type`` column (compared in lower case) -> community type.
COMMUNITY_TYPE_ALIASES = {
    "urban": "urban",
    "城镇": "urban",
    "城市": "urban",
    "城镇社区": "urban",
    "城市社区": "urban",
    "rural": "rural",
    "乡村": "rural",
    "农村": "rural",
    "乡村社区": "rural",
    "农村社区": "rural",
    "industrial": "industrial",
    "产业": "industrial",
    "产业社区": "industrial",
}
COMMUNITY_SCHEMA = _tables.Schema("communities", COMMUNITY_ALIASES, required=("community_id",), tables=False)


def read_communities(
    source: str | Path | FileSpec,
    crs: object = None,
    bbox: BBox | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read community boundaries into a GeoDataFrame of (multi)polygons in WGS84 (EPSG:4326).

    ``source``: a path or :class:`~circles.io.file_spec.FileSpec` of a GeoJSON, GeoPackage (first
    layer unless named) or Shapefile (.shp or .shp.zip); ``crs``/``layer`` as for
    :func:`circles.io.facilities.read_facilities` (a declared ``crs`` overrides the file's; undeclared,
    the file's own is used). Columns (headers per :data:`COMMUNITY_ALIASES`): ``community_id``
    (编号/id; required, unique), ``name`` (default: the ``community`` column, else the id), ``type``
    in urban/rural/industrial (城镇/乡村/产业 accepted; 'urban' when the column is absent),
    ``households`` and ``population`` (numbers >= 0, NaN when blank or absent), ``district`` (区),
    ``community`` (社区) and ``street`` (街道) (None when absent); other columns are kept after these.
    ``gdf.attrs`` records the file and how its coordinates were read.

    Invalid polygons are repaired with ``shapely.make_valid`` (logged warning); empty or non-polygon
    geometries raise :class:`DataFileError`. Rows outside the region ``bbox`` (WGS84 degrees): a
    community entirely outside raises :class:`OutsideRegionError` (its residents cannot be routed,
    and a community list is the plan's subject, not a register to filter); one partly outside is
    logged.
    """
    spec, part = _files.input_spec(source, crs, layer)
    src = _files.read_file(spec, part, COMMUNITY_SCHEMA)
    gdf, cols, rows = src.frame, src.columns, src.rows
    ids = _community_ids(gdf, cols["community_id"], rows)  # also labels the rows in messages

    polygons = _community_polygons(gdf.geometry.to_numpy().copy(), rows)
    geoms, crs_used = _lonlat.read_as_lonlat(polygons, spec.crs, gdf.crs, rows)
    still = ~shapely.is_valid(geoms)  # a conversion can bend a valid ring by a hair
    if still.any():
        _lonlat.repair_polygons(geoms, still)
        log.debug("%s: repaired %d polygons after conversion to WGS84", rows.source, int(still.sum()))

    ctype = _community_types(gdf, cols["type"], rows)
    households = _tables.non_negative(gdf, cols["households"], rows)
    population = _tables.non_negative(gdf, cols["population"], rows)
    names = _tables.optional_strings(gdf, cols["name"])
    community = _tables.optional_strings(gdf, cols["community"])
    default_names = np.where(pd.isna(community), ids, community) if cols["name"] is None else ids
    out = gpd.GeoDataFrame(
        {
            "community_id": ids,
            "name": np.where(pd.isna(names), default_names, names),
            "type": ctype,
            "households": households,
            "population": population,
            "district": _tables.optional_strings(gdf, cols["district"]),
            "community": community,
            "street": _tables.optional_strings(gdf, cols["street"]),
            **_tables.extra_columns(gdf, cols, COMMUNITY_COLUMNS),
        },
        geometry=geoms,
        crs=WGS84,
    )
    if bbox is not None:
        _check_in_region(geoms, bbox, rows)
    out.attrs.update(source_file=str(spec.path), source_part=rows.part, **crs_used)
    log.info(
        "%s: %d communities read (coordinates read as %s)", rows.source, len(out), crs_used["crs_read_as"]
    )
    return out


def _community_ids(gdf: gpd.GeoDataFrame, col: object, rows: _tables.Rows) -> np.ndarray:
    """The required, unique ids; a :class:`DataFileError` for a missing column, blank or duplicates."""
    if col is None:  # pragma: no cover - required by COMMUNITY_SCHEMA, checked when the file is read
        raise rows.fail(DataFileError, "no 'community_id' column")
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
            rows.source,
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
        log.info("%s: no 'type' column; all communities taken as urban", rows.source)
        return np.full(len(gdf), "urban", dtype=object)
    raw = _tables.strings(gdf[col])
    ctype = np.array(
        [COMMUNITY_TYPE_ALIASES.get(_tables.header_key(v)) if isinstance(v, str) else None for v in raw],
        dtype=object,
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
            rows.source,
            bbox_text(bbox),
            rows.where(partly),
        )
