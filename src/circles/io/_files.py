"""Opening a user's input file: which file and coordinate system (:class:`~.file_spec.FileSpec`), the
checks made before reading (a regular file, under its size limit), and reading it by type into records
with their columns found.

Private to :mod:`circles.io`; the readers (:mod:`.facilities`, :mod:`.communities`, :mod:`.candidates`)
import it by module name (``from . import _files``).

File types: GeoJSON, GeoPackage, Shapefile (.shp or a zipped .shp) through pyogrio, with the CRS they
store; CSV/TSV (:mod:`._csv`) and Excel .xlsx (:mod:`._excel`) tables of points, which store none, so
their coordinate system must be declared (``canteens.xlsx:gcj02``) or the file is refused.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..errors import CoordinateSystemError, DataFileError
from . import _csv, _excel, _lonlat, _tables
from .file_spec import FileSpec, declared_crs, parse_file_spec

log = logging.getLogger(__name__)

MB = 1_000_000
#: Largest input file read per type, bytes, checked before reading (a test may patch an entry).
#: ``csv``: read in chunks, numbers parsed as they are read; 200 MB of points (3.2 million rows) take
#: 15-20 s and 1.9 GB peak RSS here, about the size of the result (bench/bench_read_csv.py), so the
#: limit keeps a file under a minute and ~5 GB. ``excel``: openpyxl parses ~0.2 MB of .xlsx a second
#: here (200,000 rows x 6 columns, 6 MB: ~40 s): the limit keeps a sheet near a minute; larger
#: registers are better saved as CSV.
#: ``vector``: GeoJSON/GeoPackage/Shapefile are read whole by GDAL.
MAX_INPUT_BYTES: dict[str, int] = {"csv": 500 * MB, "excel": 10 * MB, "vector": 2000 * MB}
#: File name endings read by pyogrio (GeoJSON, GeoPackage, Shapefile, zipped Shapefile).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
#: File name endings read as delimited text tables of points.
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
#: File name endings read as Excel workbooks.
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
#: Files beside a .shp that GDAL opens with it.
SHAPEFILE_PARTS = (".dbf", ".shx", ".prj", ".cpg")

_TYPE_NAMES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def input_spec(source: str | Path | FileSpec, crs: object, layer: str | int | None) -> tuple[FileSpec, Any]:
    """The :class:`FileSpec` of a reader's arguments, and the sheet or layer to read (a name, a 0-based
    index or None). ``source`` may carry ``#part`` and ``:crs`` (see :func:`parse_file_spec`); ``crs=``
    and ``layer=`` declare them too. Two different declarations are a :class:`CoordinateSystemError`
    (:class:`DataFileError` for the part)."""
    spec = parse_file_spec(source)
    if crs is not None:
        name = crs if isinstance(crs, str) else str(crs)
        given = declared_crs(name, str(spec.path))
        if spec.crs is not None and spec.crs != given:
            raise CoordinateSystemError(
                f"{spec.path}: coordinate system declared twice, as {spec.crs} and as {given}; declare one"
            )
        spec = FileSpec(spec.path, given, spec.part)
    part: Any = spec.part
    if layer is not None:
        if part is not None and str(layer) != part:
            raise DataFileError(f"{spec.path}: sheet or layer named twice, as {part!r} and as {layer!r}")
        part = layer
    return spec, part


# --- checks before reading -----------------------------------------------------------------------


def _regular(path: Path) -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed): a :class:`DataFileError` unless a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except OSError as e:
        raise DataFileError(f"{path}: cannot read ({e.strerror or e})") from e
    if not stat.S_ISREG(st.st_mode):
        kind = _TYPE_NAMES.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise DataFileError(f"{path}: {kind}, not a regular file; only regular files are read")
    return st


def file_type(path: Path, schema: _tables.Schema) -> str:
    """``'vector'``, ``'csv'`` or ``'excel'`` by the file name; a :class:`DataFileError` for other types
    and for tables where ``schema`` needs polygons."""
    name = path.name.lower()
    if name.endswith(".xls"):
        raise DataFileError(
            f"{path}: the old Excel format (.xls) is not read; open it in Excel or WPS and save it as "
            "an Excel workbook (.xlsx) or as CSV"
        )
    kinds = "GeoJSON, GeoPackage, Shapefile (.shp or .shp.zip)"
    if name.endswith(CSV_SUFFIXES + EXCEL_SUFFIXES):
        if not schema.tables:
            raise DataFileError(f"{path}: {schema.what} need polygon geometry; use {kinds}, not a table")
        return "csv" if name.endswith(CSV_SUFFIXES) else "excel"
    if name.endswith(VECTOR_SUFFIXES):
        return "vector"
    if schema.tables:
        kinds += ", CSV or Excel (.xlsx) with longitude/latitude columns"
    raise DataFileError(f"{path}: unsupported file type {path.suffix!r}; {schema.what} are read from {kinds}")


def check_input_file(path: Path, schema: _tables.Schema) -> str:
    """The file's type (:func:`file_type`) after checking, before anything is opened, that it is a
    regular file (symlinks followed; a Shapefile's parts too) under its size limit
    (:data:`MAX_INPUT_BYTES`)."""
    st = _regular(path)
    kind = file_type(path, schema)
    if path.suffix.lower() == ".shp":
        for part in (path.with_suffix(s) for s in SHAPEFILE_PARTS):
            if os.path.lexists(part):
                _regular(part)
    limit = MAX_INPUT_BYTES[kind]
    if st.st_size > limit:
        advice = "; save the sheet as CSV" if kind == "excel" else "; split it or keep the part you need"
        raise DataFileError(
            f"{path}: {st.st_size / MB:,.1f} MB is over the limit of {limit / MB:,.0f} MB for "
            f"{'an Excel' if kind == 'excel' else 'a ' + kind} file{advice}"
        )
    return kind


# --- reading -------------------------------------------------------------------------------------


@dataclass
class Source:
    """A file as read: its records (``frame``: points without CRS for a table, geometry and CRS as
    stored for a vector file), the input ``columns`` found per output column, and the ``rows``."""

    frame: gpd.GeoDataFrame
    columns: dict[str, Any | None]
    rows: _tables.Rows


def read_vector(path: Path, layer: str | int | None) -> gpd.GeoDataFrame:
    """A GeoJSON / GeoPackage / Shapefile (also zipped) as read by pyogrio, CRS as stored; the first
    layer unless ``layer`` (name or 0-based index) is given."""
    import pyogrio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            if not layers:
                raise DataFileError(f"{path}: no layers in file")
            if layer is None and len(layers) > 1:
                log.info(
                    "%s: %d layers, reading the first (%s); name one as FILE#LAYER",
                    path,
                    len(layers),
                    layers[0],
                )
            if isinstance(layer, str) and layer not in layers:
                raise DataFileError(
                    f"{path}: no layer {layer!r}; the layers are: {', '.join(map(repr, layers))}"
                )
            name = layers[0] if layer is None else layer
            gdf = gpd.read_file(path, layer=name, engine="pyogrio")
        except DataFileError:
            raise
        except Exception as e:  # GDAL/pyogrio raise a variety of types for unreadable files
            raise DataFileError(f"{path}: cannot read as a GeoJSON/GeoPackage/Shapefile ({e})") from e
    for w in caught:
        log.warning("%s: %s", path, w.message)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise DataFileError(f"{path}: layer {layer!r} has no geometry")
    return gdf.reset_index(drop=True)


def table_points(table: _tables.PointTable, rows: _tables.Rows) -> tuple[gpd.GeoDataFrame, _tables.Rows]:
    """A table's records as points without CRS, and their numbering. Rows without coordinates that are
    blank or a total (合计, 总计, …) are skipped (totals with a logged note); any other row with a
    missing or non-numeric coordinate is a :class:`DataFileError` naming the rows."""
    no_xy = np.isnan(table.x) & np.isnan(table.y) & ~table.bad
    empty = _tables.blank_rows(table.attrs, no_xy)
    totals = _tables.total_rows(table.attrs, no_xy & ~empty)
    if totals.any():
        log.info("%s: skipping the total %s (no coordinates)", rows.source, rows.where(totals))
    if empty.any() or totals.any():
        keep = ~(empty | totals)
        rows, table = rows.subset(keep), table.subset(keep)
    bad = table.bad | ~np.isfinite(table.x) | ~np.isfinite(table.y)
    if bad.any():
        raise rows.fail(
            DataFileError,
            f"missing or non-numeric coordinates in columns {table.lon_col!r}/{table.lat_col!r}",
            bad,
        )
    attrs = _tables.drop_blank_unnamed(table.attrs)
    return gpd.GeoDataFrame(attrs, geometry=shapely.points(table.x, table.y), crs=None), rows


def _columns(
    columns: list[Any], schema: _tables.Schema, rows: _tables.Rows, hints: Mapping[str, str], table: bool
) -> dict[str, Any | None]:
    """The input column per output column; a :class:`DataFileError` listing the accepted headers of every
    required one that is missing (the coordinates too, for a table)."""
    aliases = {**_tables.LONLAT_ALIASES, **schema.aliases} if table else schema.aliases
    found = _tables.find_columns(columns, aliases)
    required = (("lon", "lat") if table else ()) + schema.required
    missing = [f for f in required if found[f] is None]
    if missing:
        raise _tables.missing_columns_error(rows, aliases, missing, columns, hints)
    return found


def read_file(
    spec: FileSpec, part: str | int | None, schema: _tables.Schema, hints: Mapping[str, str] | None = None
) -> Source:
    """Read ``spec.path`` (after :func:`check_input_file`) into a :class:`Source` with at least one
    record. A table of points whose coordinate system is not declared is refused before it is read
    (:class:`CoordinateSystemError` naming the choices). ``hints``: extra text per output column for
    the message about a missing column (e.g. the accepted categories)."""
    path, hints = spec.path, hints or {}
    kind = check_input_file(path, schema)
    rows = _tables.Rows(path, part=None if part is None else str(part))
    if kind == "vector":
        frame = read_vector(path, part)
        names = [c for c in frame.columns if c != frame.geometry.name]
        columns = _columns(names, schema, rows, hints, table=False)
    else:
        if spec.crs is None:
            raise _lonlat.undeclared_crs_error(rows)
        if kind == "csv":
            if part is not None:
                raise DataFileError(f"{path}: a CSV file has no sheets or layers (got {part!r})")
            layout = _csv.sniff_layout(path)
            columns = _columns(list(layout.columns), schema, rows, hints, table=True)
            numeric = [columns[f] for f in schema.numeric if columns[f] is not None]
            table = _csv.read_points(path, layout, columns["lon"], columns["lat"], numeric)
        else:
            sheet = _excel.read_sheet(path, part)
            rows.part = sheet.name
            columns = _columns(list(sheet.frame.columns), schema, rows, hints, table=True)
            table = _tables.PointTable.from_frame(sheet.frame, columns["lon"], columns["lat"], sheet.numbers)
        rows.numbers = table.numbers
        attrs, found = table.attrs, dict(columns)
        rows.label_fn = lambda: _tables.row_labels(attrs, found, schema.labels)  # for messages only
        frame, rows = table_points(table, rows)
        columns.pop("lon")
        columns.pop("lat")
    if len(frame) == 0:
        raise DataFileError(f"{rows.source}: no {schema.what} in file")
    return Source(frame, columns, rows)
