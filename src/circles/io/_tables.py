"""Shared internals of the user-file readers (facilities, communities, candidate sites): reading a file
into a GeoDataFrame, finding columns by alias, parsing cells, and naming offending rows in messages.

Private to :mod:`circles.io`; its names are public within it and the readers import it by module name
(``from . import _tables``). Geometry, coordinate systems and the region are in :mod:`._lonlat`.

Row numbers count records from 1 in file order (in a CSV, row 1 is the line after the header); an id
or name is shown beside the row number when the file has one. At most :data:`MAX_LISTED` rows are
listed.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import DataFileError, InputError

log = logging.getLogger(__name__)

#: Rows (or values) named in one message at most.
MAX_LISTED = 10
#: File name endings read by pyogrio (GeoJSON, GeoPackage, Shapefile, zipped Shapefile).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
#: File name endings read as delimited text with longitude/latitude columns.
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
#: Accepted names of the longitude and latitude columns of a table (any case).
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")

#: Output column -> accepted input names (lower case, first found wins), one table per input kind.
Aliases = Mapping[str, Sequence[str]]


# --- messages ------------------------------------------------------------------------------------


@dataclass
class Rows:
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


def listing(items: Sequence[str]) -> str:
    """The first :data:`MAX_LISTED` items joined by commas, then '… and N more'."""
    head = ", ".join(items[:MAX_LISTED])
    return head + (f" … and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def attribute_names(gdf: gpd.GeoDataFrame) -> str:
    """The column names of ``gdf`` other than its geometry, for messages."""
    return ", ".join(map(str, gdf.columns.drop(gdf.geometry.name)))


# --- reading files -------------------------------------------------------------------------------


def read_vector(path: Path, layer: str | int | None) -> gpd.GeoDataFrame:
    """A GeoJSON / GeoPackage / Shapefile (also zipped) as read by pyogrio, CRS as stored; the first
    layer unless ``layer`` (name or index) is given."""
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


def read_table(path: Path) -> pd.DataFrame:
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


def table_points(df: pd.DataFrame, rows: Rows) -> gpd.GeoDataFrame:
    """A table with longitude/latitude columns (:data:`LON_NAMES`, :data:`LAT_NAMES`) as points with
    no CRS; the other columns are kept."""
    lon_col, lat_col = find_column(df.columns, LON_NAMES), find_column(df.columns, LAT_NAMES)
    if lon_col is None or lat_col is None:
        raise rows.fail(
            DataFileError,
            f"no longitude/latitude columns (accepted: {'/'.join(LON_NAMES)} "
            f"and {'/'.join(LAT_NAMES)}, any case); columns found: "
            f"{', '.join(map(str, df.columns))}",
        )
    x, bad_x = numbers(df[lon_col])
    y, bad_y = numbers(df[lat_col])
    bad = bad_x | bad_y | ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        raise rows.fail(
            DataFileError, f"missing or non-numeric coordinates in columns {lon_col!r}/{lat_col!r}", bad
        )
    attrs = df.drop(columns=[lon_col, lat_col])
    return gpd.GeoDataFrame(attrs, geometry=shapely.points(x, y), crs=None)


def read_file(path: Path, layer: str | int | None, what: str, *, tables: bool) -> gpd.GeoDataFrame:
    """The one entry point by file type: a vector file (:data:`VECTOR_SUFFIXES`) or, when ``tables``,
    a delimited table of points (:data:`TABLE_SUFFIXES`), as a GeoDataFrame with at least one record,
    CRS as stored (None for a table). ``what`` names the records in messages ('facilities')."""
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    name = path.name.lower()
    if name.endswith(TABLE_SUFFIXES):
        if not tables:
            raise DataFileError(
                f"{path}: {what} need polygon geometry; use GeoJSON, GeoPackage or Shapefile, not a table"
            )
        gdf = table_points(read_table(path), Rows(path))
    elif name.endswith(VECTOR_SUFFIXES):
        gdf = read_vector(path, layer)
    else:
        kinds = "GeoJSON, GeoPackage, Shapefile (.shp or .shp.zip)" + (", CSV with lon/lat" if tables else "")
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r}; {what} are read from {kinds}")
    if len(gdf) == 0:
        raise DataFileError(f"{path}: no {what} in file")
    return gdf


# --- columns and cells ---------------------------------------------------------------------------


def find_column(columns: Sequence[Any], names: Sequence[str]) -> Any | None:
    """The first column whose stripped, lower-cased name is in ``names`` (in ``names`` order)."""
    lower: dict[str, Any] = {}
    for c in columns:
        lower.setdefault(str(c).strip().lower(), c)
    return next((lower[n] for n in names if n in lower), None)


def find_columns(columns: Sequence[Any], aliases: Aliases) -> dict[str, Any | None]:
    """Output column -> the input column found for it by :func:`find_column` (None when absent)."""
    return {key: find_column(columns, names) for key, names in aliases.items()}


def extra_columns(gdf: gpd.GeoDataFrame, used: Mapping[str, Any | None], reserved: Sequence[str]) -> dict:
    """The columns of ``gdf`` kept after the standard ones: neither geometry, nor a column found in
    ``used``, nor one whose lower-cased name is a ``reserved`` output column; name -> values."""
    taken = {c for c in used.values() if c is not None} | {gdf.geometry.name}
    extra = gdf[[c for c in gdf.columns if c not in taken and str(c).lower() not in reserved]]
    return {c: extra[c].to_numpy() for c in extra.columns}


def blank(values: pd.Series) -> np.ndarray:
    """Mask of cells that are None, NA or a string of white space only."""
    return values.map(
        lambda v: (
            v is None
            or (not isinstance(v, str) and bool(pd.isna(v)))
            or (isinstance(v, str) and not v.strip())
        )
    ).to_numpy(dtype=bool)


def numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, NaN where blank; mask of cells that are neither blank nor a number)."""
    s = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    empty = blank(s)
    num = pd.to_numeric(s.where(~empty, None), errors="coerce").to_numpy(dtype=float)
    return num, ~empty & ~np.isfinite(num)


def strings(values: pd.Series) -> np.ndarray:
    """Object array of stripped strings, None where blank; integral floats lose their '.0'."""

    def one(v: Any) -> str | None:
        if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        s = str(v).strip()
        return s or None

    return np.array([one(v) for v in values], dtype=object)


def optional_strings(gdf: pd.DataFrame, col: Any | None) -> np.ndarray:
    """:func:`strings` of column ``col``, or all None when the file has no such column."""
    return strings(gdf[col]) if col is not None else np.full(len(gdf), None, object)


def non_negative(gdf: pd.DataFrame, col: Any | None, rows: Rows, unit: str = "") -> np.ndarray:
    """An optional numeric column: numbers >= 0 or blank (NaN); NaN everywhere when ``col`` is None.
    Anything else is a :class:`DataFileError` naming the rows; ``unit`` (e.g. 'm²') is named there."""
    if col is None:
        return np.full(len(gdf), np.nan)
    values, bad = numbers(gdf[col])
    bad |= values < 0
    if bad.any():
        of_unit = f" of {unit}" if unit else ""
        raise rows.fail(DataFileError, f"{col!r} must be a number{of_unit} >= 0 or blank", bad)
    return values


def fill_blank_ids(ids: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    """``ids`` with blank (None) ones replaced by ``'<file stem>:<row>'``, and how many were blank."""
    blank_id = pd.isna(ids)
    if not blank_id.any():
        return ids, 0
    ids = ids.copy()
    ids[blank_id] = [f"{path.name.split('.')[0]}:{i + 1}" for i in np.flatnonzero(blank_id)]
    return ids, int(blank_id.sum())


def duplicated(ids: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(mask of rows whose id occurs more than once, those ids in first-seen order)."""
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    return dup, list(dict.fromkeys(ids[dup]))
