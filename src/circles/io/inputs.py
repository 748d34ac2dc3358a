"""Reading user files: facility lists and community boundaries, and checking their coordinate system.

Both readers return GeoDataFrames in WGS84 (EPSG:4326, lon/lat degrees). The coordinates in the
file are read in the *declared* coordinate system ``crs``: ``'wgs84'`` (also CGCS2000),
``'gcj02'`` (高德/腾讯 exports), ``'bd09'`` (百度) or an EPSG code such as ``'EPSG:32648'`` (UTM 48N,
metres), and converted with :func:`circles.io.coords.to_wgs84`. How the declaration and a CRS stored in
the file combine:

* the file says WGS84/CGCS2000 (every GeoJSON does, and Chinese POI exports store GCJ-02 numbers
  under a "WGS84" label) -> the declaration wins;
* the file carries another CRS (e.g. a GeoPackage in EPSG:32648) -> that CRS is used when the
  declaration is the default ``'wgs84'``; a different EPSG declaration overrides it (logged);
  ``'gcj02'``/``'bd09'`` declared for a projected file is a :class:`CoordinateSystemError`.

Every problem raises a specific error (all subclass ``ValueError``) naming the file and the offending
rows. Row numbers count records from 1 in file order (in a CSV, row 1 is the line after the header);
an id or name is shown beside the row number when the file has one. At most ten rows are listed.

:func:`check_declared_crs` catches the commonest mistake, GCJ-02/BD-09 numbers declared as WGS84
(250-500 m off in Chengdu), by comparing distances to known data (e.g. the street network).
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..catalog import COMMUNITY_TYPES, Catalog, load_catalog
from ..errors import (
    CoordinateSystemError,
    DataFileError,
    InputError,
    OutsideRegionError,
    UnknownCategoryError,
)
from ..io.coords import (
    CRS_LABELS,
    normalise_crs_name,
    to_wgs84,
)

__all__ = [
    "FACILITY_COLUMNS",
    "COMMUNITY_COLUMNS",
    "read_communities",
    "read_facilities",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
#: (lon_min, lat_min, lon_max, lat_max) in WGS84 degrees, as in :mod:`circles.routing.load`.
BBox = tuple[float, float, float, float]
#: Leading columns of :func:`read_facilities` output (then any other attributes, then geometry).
FACILITY_COLUMNS = ("facility_id", "category", "name", "floor_area_m2", "source")
#: Leading columns of :func:`read_communities` output.
COMMUNITY_COLUMNS = ("community_id", "name", "type", "households", "population", "district")

MAX_LISTED = 10
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
_LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
_LAT_NAMES = ("lat", "latitude", "y", "纬度")
# Shapefile field names are cut to 10 characters, hence the truncated aliases.
_FACILITY_ALIASES = {
    "facility_id": ("facility_id", "facility_i"),
    "category": ("category",),
    "name": ("name",),
    "floor_area_m2": ("floor_area_m2", "floor_area"),
    "source": ("source",),
}
_COMMUNITY_ALIASES = {
    "community_id": ("community_id", "community_", "id"),
    "name": ("name",),
    "type": ("type", "community_type"),
    "households": ("households",),
    "population": ("population",),
    "district": ("district",),
}
_TYPE_ALIASES = {
    "urban": "urban",
    "城镇": "urban",
    "rural": "rural",
    "乡村": "rural",
    "农村": "rural",
    "industrial": "industrial",
    "产业": "industrial",
}


# --- messages ------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Row numbering and labels of one file, for messages."""

    path: Path
    labels: np.ndarray | None = None  # an id or name per record (object array), or None

    def where(self, mask: np.ndarray | Sequence[bool]) -> str:
        """'row 3 ('id7'), row 5, … and N more' for the records where ``mask`` is true."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        parts = []
        for i in idx[:MAX_LISTED]:
            label = self.labels[i] if self.labels is not None else None
            parts.append(f"{i + 1} ({label!r})" if isinstance(label, str) and label else str(i + 1))
        text = ("row " if len(idx) == 1 else "rows ") + ", ".join(parts)
        return text + (f" … and {len(idx) - MAX_LISTED} more" if len(idx) > MAX_LISTED else "")

    def fail(
        self, cls: type[InputError], msg: str, mask: np.ndarray | None = None, hint: str = ""
    ) -> InputError:
        """``cls('<path>: <msg>: <rows><hint>')``."""
        return cls(f"{self.path}: {msg}" + (f": {self.where(mask)}" if mask is not None else "") + hint)


def _bbox_text(bbox: BBox) -> str:
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return f"(lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f})"


def _listing(items: Sequence[str]) -> str:
    head = ", ".join(items[:MAX_LISTED])
    return head + (f" … and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


# --- reading files -------------------------------------------------------------------------------


def _read_vector(path: Path, layer: str | int | None) -> gpd.GeoDataFrame:
    """A GeoJSON / GeoPackage / Shapefile (also zipped) as read by pyogrio, CRS as stored."""
    import pyogrio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if layer is None:
                layers = pyogrio.list_layers(path)
                if len(layers) == 0:
                    raise DataFileError(f"{path}: no layers in file")
                if len(layers) > 1:
                    log.info(
                        "%s: %d layers, reading the first (%s); choose one with layer=",
                        path,
                        len(layers),
                        layers[0][0],
                    )
                layer = layers[0][0]
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
        except DataFileError:
            raise
        except Exception as e:  # GDAL/pyogrio raise a variety of types for unreadable files
            raise DataFileError(f"{path}: cannot read as a GeoJSON/GeoPackage/Shapefile ({e})") from e
    for w in caught:
        log.warning("%s: %s", path, w.message)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise DataFileError(f"{path}: layer {layer!r} has no geometry")
    return gdf.reset_index(drop=True)


def _read_table(path: Path) -> pd.DataFrame:
    """A delimited text file (UTF-8 or GB18030, delimiter sniffed), every cell as a string."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataFileError(f"{path}: cannot read ({e})") from e
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise DataFileError(f"{path}: not UTF-8 or GB18030 text")
    header = text.lstrip().split("\n", 1)[0]
    try:
        sep = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise DataFileError(f"{path}: not a readable CSV file ({e})") from e


def _find(columns: Sequence[Any], names: Sequence[str]) -> Any | None:
    """The first column whose stripped, lower-cased name is in ``names`` (in ``names`` order)."""
    lower: dict[str, Any] = {}
    for c in columns:
        lower.setdefault(str(c).strip().lower(), c)
    return next((lower[n] for n in names if n in lower), None)


def _blank(values: pd.Series) -> np.ndarray:
    return values.map(
        lambda v: (
            v is None
            or (not isinstance(v, str) and bool(pd.isna(v)))
            or (isinstance(v, str) and not v.strip())
        )
    ).to_numpy(dtype=bool)


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, NaN where blank; mask of cells that are neither blank nor a number)."""
    s = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    blank = _blank(s)
    num = pd.to_numeric(s.where(~blank, None), errors="coerce").to_numpy(dtype=float)
    return num, ~blank & ~np.isfinite(num)


def _strings(values: pd.Series) -> np.ndarray:
    """Object array of stripped strings, None where blank; integral floats lose their '.0'."""

    def one(v: Any) -> str | None:
        if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        s = str(v).strip()
        return s or None

    return np.array([one(v) for v in values], dtype=object)


def _csv_points(df: pd.DataFrame, rows: _Rows) -> gpd.GeoDataFrame:
    lon_col, lat_col = _find(df.columns, _LON_NAMES), _find(df.columns, _LAT_NAMES)
    if lon_col is None or lat_col is None:
        raise rows.fail(
            DataFileError,
            f"no longitude/latitude columns (accepted: {'/'.join(_LON_NAMES)} "
            f"and {'/'.join(_LAT_NAMES)}, any case); columns found: "
            f"{', '.join(map(str, df.columns))}",
        )
    x, bad_x = _numbers(df[lon_col])
    y, bad_y = _numbers(df[lat_col])
    bad = bad_x | bad_y | ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        raise rows.fail(
            DataFileError, f"missing or non-numeric coordinates in columns {lon_col!r}/{lat_col!r}", bad
        )
    attrs = df.drop(columns=[lon_col, lat_col])
    return gpd.GeoDataFrame(attrs, geometry=shapely.points(x, y), crs=None)


def _read_any(path: Path, layer: str | int | None, what: str, tables: bool) -> gpd.GeoDataFrame:
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    name = path.name.lower()
    if name.endswith(_TABLE_SUFFIXES):
        if not tables:
            raise DataFileError(
                f"{path}: {what} need polygon geometry; use GeoJSON, GeoPackage or Shapefile, not a table"
            )
        gdf = _csv_points(_read_table(path), _Rows(path))
    elif name.endswith(_VECTOR_SUFFIXES):
        gdf = _read_vector(path, layer)
    else:
        kinds = "GeoJSON, GeoPackage, Shapefile (.shp or .shp.zip)" + (", CSV with lon/lat" if tables else "")
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r}; {what} are read from {kinds}")
    if len(gdf) == 0:
        raise DataFileError(f"{path}: no {what} in file")
    return gdf


# --- coordinate systems --------------------------------------------------------------------------


def _is_geographic(key: str) -> bool:
    return key in CRS_LABELS or bool(pyproj.CRS.from_user_input(key).is_geographic)


def _resolve_crs(declared: str, file_crs: Any, path: Path) -> str:
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


def _check_coordinates(xy_min: np.ndarray, xy_max: np.ndarray, key: str, rows: _Rows) -> None:
    """Geographic: every coordinate valid lon/lat. Projected: not all of them look like degrees."""
    finite = np.isfinite(xy_min).all(axis=1) & np.isfinite(xy_max).all(axis=1)
    if not finite.all():
        raise rows.fail(DataFileError, "non-finite coordinates", ~finite)
    if _is_geographic(key):
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


def _to_lonlat(geoms: np.ndarray, key: str, rows: _Rows) -> np.ndarray:
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


def _outside(geoms: np.ndarray, bbox: BBox) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return ~shapely.intersects(geoms, shapely.box(x0, y0, x1, y1))


def _geometry_problems(geoms: np.ndarray, rows: _Rows) -> None:
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise rows.fail(DataFileError, "missing or empty geometry", missing)


# --- facilities ----------------------------------------------------------------------------------


def _facility_points(geoms: np.ndarray, rows: _Rows) -> np.ndarray:
    """Points as they are; single-part multipoints unwrapped; polygons -> representative point."""
    _geometry_problems(geoms, rows)
    kind = shapely.get_type_id(geoms)
    nparts = shapely.get_num_geometries(geoms)
    single_multi = (kind == 4) & (nparts == 1)
    polygonal = (kind == 3) | (kind == 6)
    bad = ~((kind == 0) | single_multi | polygonal)
    if bad.any():
        types = sorted(set(shapely.get_type_id(geoms[bad]).tolist()))
        names = ", ".join(shapely.GeometryType(t).name.lower() for t in types)
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
    lat/latitude/y (any case). ``crs``: coordinate system of the numbers, see the module docstring.

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
    if on_outside not in ("error", "drop"):
        raise InputError(f"on_outside must be 'error' or 'drop' (got {on_outside!r})")
    declared = normalise_crs_name(crs)
    catalog = catalog if catalog is not None else load_catalog()
    gdf = _read_any(path, layer, "facilities", tables=True)
    cols = {k: _find(gdf.columns, names) for k, names in _FACILITY_ALIASES.items()}
    rows = _Rows(path)
    if cols["category"] is None:
        raise rows.fail(
            DataFileError,
            f"no 'category' column (columns found: "
            f"{', '.join(map(str, gdf.columns.drop(gdf.geometry.name)))}); "
            f"each facility needs a category, one of: {', '.join(catalog)}",
        )
    n = len(gdf)
    ids = _strings(gdf[cols["facility_id"]]) if cols["facility_id"] is not None else np.full(n, None, object)
    names = _strings(gdf[cols["name"]]) if cols["name"] is not None else np.full(n, None, object)
    rows.labels = np.where(pd.notna(ids), ids, names)

    # geometry and coordinate system
    geoms = _facility_points(gdf.geometry.to_numpy(), rows)
    key = _resolve_crs(declared, gdf.crs, path)
    xy = shapely.get_coordinates(geoms)
    _check_coordinates(xy, xy, key, rows)
    geoms = _to_lonlat(geoms, key, rows)

    # attributes
    category = np.array(
        [c.lower() if isinstance(c, str) else c for c in _strings(gdf[cols["category"]])], dtype=object
    )
    unknown = np.array([c not in catalog for c in category])
    if unknown.any():
        bad_values = list(dict.fromkeys(category[unknown]))
        parts = [
            f"{v!r} in {rows.where(category == v)}"
            if v is not None
            else f"blank in {rows.where(pd.isna(category))}"
            for v in bad_values[:MAX_LISTED]
        ]
        more = f" … and {len(bad_values) - MAX_LISTED} more" if len(bad_values) > MAX_LISTED else ""
        raise UnknownCategoryError(
            f"{path}: unknown facility categories: {'; '.join(parts)}{more}; "
            f"known categories: {', '.join(catalog)}"
        )
    area = area_column(gdf, cols["floor_area_m2"], rows, n)
    blank_id = pd.isna(ids)
    if blank_id.any():
        ids = ids.copy()
        ids[blank_id] = [f"{path.name.split('.')[0]}:{i + 1}" for i in np.flatnonzero(blank_id)]
        if cols["facility_id"] is not None:
            log.info("%s: %d facilities without an id got '<file>:<row>' ids", path, int(blank_id.sum()))
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        values = list(dict.fromkeys(ids[dup]))
        raise rows.fail(DataFileError, f"duplicate facility ids {_listing([repr(v) for v in values])}", dup)
    source = _strings(gdf[cols["source"]]) if cols["source"] is not None else np.full(n, None, object)
    source[pd.isna(source)] = "user"

    used = {c for c in cols.values() if c is not None} | {gdf.geometry.name}
    extra = gdf[[c for c in gdf.columns if c not in used and str(c).lower() not in FACILITY_COLUMNS]]
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.astype(object),
            "category": category,
            "name": np.where(pd.isna(names), "", names),
            "floor_area_m2": area,
            "source": source,
            **{c: extra[c].to_numpy() for c in extra.columns},
        },
        geometry=geoms,
        crs=WGS84,
    )

    out = outside_rows(out, bbox, on_outside, rows, path, "facilities")
    out.attrs.update(source_file=str(path), crs_read_as=key)
    log.info("%s: %d facilities read (coordinates read as %s)", path, len(out), key)
    return out


def area_column(gdf: pd.DataFrame, col: Any, rows: _Rows, n: int) -> np.ndarray:
    """An optional column of areas in m²: numbers >= 0 or blank (NaN); NaN everywhere when ``col`` is None.
    Anything else is a :class:`DataFileError` naming the rows."""
    if col is None:
        return np.full(n, np.nan)
    area, bad = _numbers(gdf[col])
    bad |= area < 0
    if bad.any():
        raise rows.fail(DataFileError, f"{col!r} must be a number of m² >= 0 or blank", bad)
    return area


def outside_rows(
    out: gpd.GeoDataFrame, bbox: BBox | None, on_outside: str, rows: _Rows, path: Path, what: str
) -> gpd.GeoDataFrame:
    """Rows outside ``bbox`` (WGS84 degrees): :class:`OutsideRegionError` naming them, or dropped with a
    logged warning when ``on_outside='drop'``."""
    if bbox is None:
        return out
    outside = _outside(out.geometry.to_numpy(), bbox)
    if not outside.any():
        return out
    msg = f"{int(outside.sum())} {what} outside the region {_bbox_text(bbox)}"
    if on_outside == "error":
        raise rows.fail(OutsideRegionError, msg, outside)
    log.warning("%s: dropping %s: %s", path, msg, rows.where(outside))
    return out[~outside].reset_index(drop=True)


# --- communities ---------------------------------------------------------------------------------


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The (multi)polygon part of ``geom`` (e.g. of a make_valid result)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_communities(
    path: str | Path, crs: object = "wgs84", bbox: BBox | None = None, layer: str | int | None = None
) -> gpd.GeoDataFrame:
    """Read community boundaries into a GeoDataFrame of (multi)polygons in WGS84 (EPSG:4326).

    ``path``: GeoJSON, GeoPackage (first layer unless ``layer``) or Shapefile (.shp or .shp.zip);
    ``crs`` as for :func:`read_facilities`. Columns: ``community_id`` (or ``id``; required, unique),
    ``name`` (default: the id), ``type`` in urban/rural/industrial (城镇/乡村/产业 accepted; 'urban' when
    the column is absent), ``households`` and ``population`` (numbers >= 0, NaN when blank or absent),
    ``district`` (None when absent); other columns are kept after these.

    Invalid polygons are repaired with ``shapely.make_valid`` (logged warning); empty or non-polygon
    geometries raise :class:`DataFileError`. With ``bbox`` (WGS84 degrees) a community entirely
    outside raises :class:`OutsideRegionError`; one partly outside is logged.
    """
    path = Path(path)
    declared = normalise_crs_name(crs)
    gdf = _read_any(path, layer, "communities", tables=False)
    cols = {k: _find(gdf.columns, names) for k, names in _COMMUNITY_ALIASES.items()}
    rows = _Rows(path)
    if cols["community_id"] is None:
        raise rows.fail(
            DataFileError,
            f"no 'community_id' (or 'id') column (columns found: "
            f"{', '.join(map(str, gdf.columns.drop(gdf.geometry.name)))})",
        )
    n = len(gdf)
    ids = _strings(gdf[cols["community_id"]])
    rows.labels = ids
    if pd.isna(ids).any():
        raise rows.fail(DataFileError, f"blank {cols['community_id']!r}", pd.isna(ids))
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        values = list(dict.fromkeys(ids[dup]))
        raise rows.fail(DataFileError, f"duplicate community ids {_listing([repr(v) for v in values])}", dup)

    # geometry
    geoms = gdf.geometry.to_numpy().copy()
    _geometry_problems(geoms, rows)
    kind = shapely.get_type_id(geoms)
    bad = ~np.isin(kind, (3, 6))
    if bad.any():
        names = ", ".join(shapely.GeometryType(t).name.lower() for t in sorted(set(kind[bad].tolist())))
        raise rows.fail(DataFileError, f"communities must be polygons, got {names}", bad)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = [shapely.is_valid_reason(g) for g in geoms[invalid][:3]]
        geoms[invalid] = [_polygonal(g) for g in shapely.make_valid(geoms[invalid])]
        log.warning(
            "%s: repaired %d invalid polygons with make_valid (%s; e.g. %s)",
            path,
            int(invalid.sum()),
            rows.where(invalid),
            "; ".join(reasons),
        )
        emptied = shapely.is_empty(geoms)
        if emptied.any():
            raise rows.fail(DataFileError, "polygons with no area left after repair", emptied)
    key = _resolve_crs(declared, gdf.crs, path)
    b = shapely.bounds(geoms)
    _check_coordinates(b[:, :2], b[:, 2:], key, rows)
    geoms = _to_lonlat(geoms, key, rows)
    still = ~shapely.is_valid(geoms)  # a conversion can bend a valid ring by a hair
    if still.any():
        geoms[still] = [_polygonal(g) for g in shapely.make_valid(geoms[still])]
        log.debug("%s: repaired %d polygons after conversion to WGS84", path, int(still.sum()))

    # attributes
    if cols["type"] is None:
        ctype = np.full(n, "urban", dtype=object)
        log.info("%s: no 'type' column; all communities taken as urban", path)
    else:
        raw = _strings(gdf[cols["type"]])
        ctype = np.array(
            [_TYPE_ALIASES.get(v.lower() if isinstance(v, str) else v) for v in raw], dtype=object
        )
        bad = pd.isna(ctype)
        if bad.any():
            values = _listing([repr(v) for v in dict.fromkeys(raw[bad])])
            raise rows.fail(
                DataFileError,
                f"community type must be one of {', '.join(COMMUNITY_TYPES)} (got {values})",
                bad,
            )
    counts = {}
    for field in ("households", "population"):
        if cols[field] is None:
            counts[field] = np.full(n, np.nan)
            continue
        values, bad = _numbers(gdf[cols[field]])
        bad |= values < 0
        if bad.any():
            raise rows.fail(DataFileError, f"{cols[field]!r} must be a number >= 0 or blank", bad)
        counts[field] = values
    names = _strings(gdf[cols["name"]]) if cols["name"] is not None else np.full(n, None, object)
    names = np.where(pd.isna(names), ids, names)
    district = _strings(gdf[cols["district"]]) if cols["district"] is not None else np.full(n, None, object)

    used = {c for c in cols.values() if c is not None} | {gdf.geometry.name}
    extra = gdf[[c for c in gdf.columns if c not in used and str(c).lower() not in COMMUNITY_COLUMNS]]
    out = gpd.GeoDataFrame(
        {
            "community_id": ids,
            "name": names,
            "type": ctype,
            **counts,
            "district": district,
            **{c: extra[c].to_numpy() for c in extra.columns},
        },
        geometry=geoms,
        crs=WGS84,
    )
    if bbox is not None:
        outside = _outside(geoms, bbox)
        if outside.any():
            raise rows.fail(OutsideRegionError, f"communities outside the region {_bbox_text(bbox)}", outside)
        x0, y0, x1, y1 = (float(v) for v in bbox)
        partly = ~shapely.within(geoms, shapely.box(x0, y0, x1, y1))
        if partly.any():
            log.warning(
                "%s: communities partly outside the region %s (residents there cannot be routed): %s",
                path,
                _bbox_text(bbox),
                rows.where(partly),
            )
    out.attrs.update(source_file=str(path), crs_read_as=key)
    log.info("%s: %d communities read (coordinates read as %s)", path, len(out), key)
    return out
