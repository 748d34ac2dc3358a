"""Reading a user's facility list (Excel, CSV, GeoJSON, GeoPackage or Shapefile) into points in WGS84.

Every file carries its own coordinate system (``canteens.xlsx:gcj02``, see
:mod:`circles.io.file_spec`); how a declaration combines with a CRS stored in the file, and why a table
without one is refused, is described in :mod:`circles.io._lonlat`. Headers and category names may be
Chinese or English (:data:`FACILITY_ALIASES`, :meth:`circles.catalog.Catalog.resolve`). Every problem
raises a specific error (all subclass ``ValueError``) naming the file and the offending rows.
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
from . import _files, _lonlat, _tables
from .file_spec import FileSpec

__all__ = ["FACILITY_ALIASES", "FACILITY_COLUMNS", "FACILITY_SCHEMA", "read_facilities"]

log = logging.getLogger(__name__)

#: Leading columns of :func:`read_facilities` output (then ``community``, ``street`` and ``district``
#: when the file has them, then any other attributes, then geometry).
FACILITY_COLUMNS = ("facility_id", "category", "name", "floor_area_m2", "source")
#: Administrative columns kept under these names when the file has them.
FACILITY_ADMIN_COLUMNS = ("community", "street", "district")
#: Accepted input headers per output column, first found wins (any case, spaces, full-width forms or a
#: trailing note in brackets such as ``面积（㎡）``). Shapefile field names are cut to 10 characters,
#: hence the truncated aliases.
FACILITY_ALIASES: _tables.Aliases = {
    "facility_id": ("facility_id", "facility_i", "设施编号", "编号", "id", "代码", "编码", "序号"),
    "category": ("category", "设施类型", "设施类别", "类别", "类型", "分类", "设施分类"),
    "name": ("name", "设施名称", "名称", "站点名称", "机构名称", "名字"),
    "floor_area_m2": (
        "floor_area_m2",
        "floor_area",
        "area_m2",
        "area",
        "建筑面积",
        "使用面积",
        "面积",
        "场地面积",
    ),
    "source": ("source", "来源", "数据来源"),
    "community": ("community", "所属社区", "社区", "社区名称"),
    "street": ("street", "所属街道", "街道", "街道办", "镇街", "乡镇街道", "乡镇(街道)"),
    "district": ("district", "所属区", "区", "区县", "所属区县", "区(市)县", "区市县"),
}
FACILITY_SCHEMA = _tables.Schema(
    "facilities",
    FACILITY_ALIASES,
    required=("category",),
    labels=("facility_id", "name"),
    numeric=("floor_area_m2",),
)


def read_facilities(
    source: str | Path | FileSpec,
    crs: object = None,
    catalog: Catalog | None = None,
    bbox: BBox | None = None,
    on_outside: str = "error",
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read a facility list into a GeoDataFrame of points in WGS84 (EPSG:4326, lon/lat degrees).

    ``source``: a path or :class:`~circles.io.file_spec.FileSpec` (``"canteens.xlsx#Sheet1:gcj02"``):
    Excel .xlsx (first sheet unless named; see :mod:`circles.io._excel`), CSV (UTF-8, UTF-16 or
    GB18030) with longitude/latitude columns (经度/纬度, lon/lat, lng, x/y, …), GeoJSON, GeoPackage
    (first layer unless named) or Shapefile (.shp or .shp.zip). ``crs``: the coordinate system of the
    numbers, if not in ``source`` (None: not declared, then the file's own; a table without one is
    refused); ``layer``: the sheet or layer, if not in ``source``. See :mod:`circles.io._lonlat`.

    Columns (headers per :data:`FACILITY_ALIASES`): ``category`` (required; a key, Chinese name or
    alias of a ``catalog`` category, default :func:`load_catalog`; stored as the key), ``name``,
    ``floor_area_m2`` (m², a number >= 0 or blank), ``facility_id`` (unique; blank ones become
    ``'<file stem>:<row>'``) and ``source`` (default ``'user'``); ``community``, ``street`` and
    ``district`` when given; other columns are kept after these. Polygon facilities are placed at a
    representative point. ``gdf.attrs`` records the file and how its coordinates were read
    (``crs_read_as``, ``crs_declared``, ``crs_from``).

    Rows outside the region ``bbox`` (lon_min, lat_min, lon_max, lat_max, WGS84 degrees): with
    ``on_outside='drop'`` they are dropped with a logged warning naming them: registers often list
    facilities of neighbouring districts, and the planner reads facility files this way. With
    ``'error'`` (the default here) they raise :class:`OutsideRegionError`; a file with every row
    outside raises either way.

    Raises :class:`DataFileError` (unreadable, unsupported or oversized file, missing column, bad
    geometry or value), :class:`UnknownCategoryError`, :class:`OutsideRegionError` (invalid lon/lat,
    outside ``bbox``) or :class:`CoordinateSystemError` (undeclared, unknown or contradictory).
    """
    spec, part = _files.input_spec(source, crs, layer)
    _lonlat.check_on_outside(on_outside)
    catalog = catalog if catalog is not None else load_catalog()
    hints = {"category": f"each facility needs a category, one of: {catalog.accepted_names()}"}
    src = _files.read_file(spec, part, FACILITY_SCHEMA, hints)
    gdf, cols, rows = src.frame, src.columns, src.rows
    ids = _tables.optional_strings(gdf, cols["facility_id"])
    names = _tables.optional_strings(gdf, cols["name"])
    rows.labels = _tables.label_values(ids, names, cols["facility_id"])

    points = _facility_points(gdf.geometry.to_numpy(), rows)
    geoms, crs_used = _lonlat.read_as_lonlat(points, spec.crs, gdf.crs, rows)
    category = _categories(gdf[cols["category"]], catalog, rows)
    area = _tables.non_negative(gdf, cols["floor_area_m2"], rows, "m²")
    ids = _facility_ids(ids, rows, cols["facility_id"])
    source_values = _tables.optional_strings(gdf, cols["source"])
    source_values[pd.isna(source_values)] = "user"
    admin = {c: _tables.strings(gdf[cols[c]]) for c in FACILITY_ADMIN_COLUMNS if cols[c] is not None}

    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.astype(object),
            "category": category,
            "name": np.where(pd.isna(names), "", names),
            "floor_area_m2": area,
            "source": source_values,
            **admin,
            **_tables.extra_columns(gdf, cols, (*FACILITY_COLUMNS, *FACILITY_ADMIN_COLUMNS)),
        },
        geometry=geoms,
        crs=WGS84,
    )
    out = _lonlat.outside_rows(out, bbox, on_outside, rows, "facilities")
    out.attrs.update(source_file=str(spec.path), source_part=rows.part, **crs_used)
    log.info(
        "%s: %d facilities read (coordinates read as %s)", rows.source, len(out), crs_used["crs_read_as"]
    )
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
            rows.source,
            int(polygonal.sum()),
            rows.where(polygonal),
        )
    xy = shapely.get_coordinates(out)
    if len(xy) != len(out) or not np.isfinite(xy).all():
        bad = ~np.isfinite(shapely.bounds(out)).all(axis=1)
        raise rows.fail(DataFileError, "missing or non-numeric coordinates", bad)
    return out


def _categories(values: pd.Series, catalog: Catalog, rows: _tables.Rows) -> np.ndarray:
    """Category keys of the values (keys, Chinese names or aliases: :meth:`Catalog.resolve`); an
    :class:`UnknownCategoryError` naming every unknown (or blank) value and its rows."""
    raw = _tables.strings(values)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    keys: list[str | None] = []
    for v in uniques:
        try:
            keys.append(catalog.resolve(v).key)
        except UnknownCategoryError:
            keys.append(None)
    category = np.array([*keys, None], dtype=object)[codes]
    unknown = pd.isna(category)
    if not unknown.any():
        return category
    bad_values: list[Any] = list(dict.fromkeys(raw[unknown]))
    parts = [
        f"{v!r} in {rows.where(raw == v)}" if v is not None else f"blank in {rows.where(pd.isna(raw))}"
        for v in bad_values[: _tables.MAX_LISTED]
    ]
    more = (
        f" … and {len(bad_values) - _tables.MAX_LISTED} more" if len(bad_values) > _tables.MAX_LISTED else ""
    )
    raise UnknownCategoryError(
        f"{rows.source}: unknown facility categories: {'; '.join(parts)}{more}; "
        f"known categories (key, Chinese name or alias): {catalog.accepted_names()}"
    )


def _facility_ids(ids: np.ndarray, rows: _tables.Rows, col: Any | None) -> np.ndarray:
    """Ids with blank ones filled (``'<file stem>:<row>'``) and those of a row counter (序号) made
    ``'<file stem>:<n>'``, so two registers numbered from 1 do not clash; a :class:`DataFileError` for
    duplicates."""
    if _tables.is_row_counter(col):
        stem = rows.path.name.split(".")[0]
        ids = np.array([None if v is None else f"{stem}:{v}" for v in ids], dtype=object)
    ids, filled = _tables.fill_blank_ids(ids, rows)
    if filled and col is not None:
        log.info("%s: %d facilities without an id got '<file>:<row>' ids", rows.source, filled)
    dup, values = _tables.duplicated(ids)
    if dup.any():
        raise rows.fail(
            DataFileError, f"duplicate facility ids {_tables.listing([repr(v) for v in values])}", dup
        )
    return ids
