"""Exports for designers: GeoPackage, zipped Shapefile and GeoJSON, all in EPSG:4326 (WGS84 lon/lat).

:func:`export` picks the format from the file name:

* ``.gpkg`` — one GeoPackage with the layers ``communities`` (polygons with coverage per category),
  ``gaps`` (the gap list with community polygons), ``sites`` (chosen sites, routing points),
  ``site_areas`` (the chosen sites' polygons where known), ``candidates`` (every candidate tested),
  ``isochrones`` (service areas of the category now and with the chosen sites) and two attribute
  tables: ``export_info`` (key/value: attribution, region, weighting, method, sample-data notes) and
  ``fields`` (what each field means). Each layer's description (``gpkg_contents``) carries the OSM
  attribution.
* ``.shp.zip`` — a zip with one Shapefile set per layer (``.shp .shx .dbf .prj .cpg``; the ``.cpg``
  says UTF-8, so Chinese text stays intact), ``README.txt`` (attribution, CRS, encoding, sample-data
  notes, layers) and ``fields.csv`` (layer, short field name, full name, type, description; UTF-8
  with BOM so Excel opens it). DBF field names are at most 10 characters; the mapping from the full
  names is :func:`shapefile_field_names` (deterministic: see there). Text longer than 254 bytes (the
  DBF limit) is cut at a character boundary and counted in README.txt.
* ``.geojson`` — one RFC 7946 FeatureCollection (EPSG:4326, exterior rings counter-clockwise, no
  ``crs`` member): the chosen sites (polygon where known, else point) when ``sites`` is given, else
  the communities with coverage; top-level members ``attribution``, ``sample_data`` and
  ``metadata``.

Every layer has an ``attribution`` field (© OpenStreetMap contributors) and says where SAMPLE data
enters: ``communities.sample_cats`` (categories whose nearest facility is sample data),
``gaps.nearest_facility_source``, ``sites.baseline`` (the sources of the existing facilities held
fixed, e.g. ``sample:6``), ``isochrones.sources``; ``source`` fields say osm/user/sample.
Infinite values (a facility that cannot be reached) are written as null.

:func:`safe_export_path` turns a requested download name into a path that cannot leave the export
directory.

This module writes the formats; the layers and the export facts are built in
:mod:`.export_layers`, the field names and meanings in :mod:`.export_fields`.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import OSM_ATTRIBUTION
from .._common import WGS84, atomic_write
from ..errors import InputError
from ._geojson import geojson_text
from .export_fields import field_description, fields_table, shapefile_field_names
from .export_layers import GEOMETRY_TYPES, LAYER_DOCS, LAYER_ORDER, LICENSE, export_info, export_layers

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Catalog
    from ..pipeline import PlanResult
    from ..planning.sites import SiteChoice

__all__ = [
    "EXPORT_SUFFIXES",
    "LAYER_ORDER",
    "MEDIA_TYPES",
    "export",
    "export_format",
    "export_info",
    "export_layers",
    "field_description",
    "safe_export_path",
    "shapefile_field_names",
]

log = logging.getLogger(__name__)

#: File name endings :func:`export` understands.
EXPORT_SUFFIXES: tuple[str, ...] = (".gpkg", ".shp.zip", ".geojson")
#: Media types for downloads, by :func:`export_format`.
MEDIA_TYPES: Mapping[str, str] = {
    "gpkg": "application/geopackage+sqlite3",
    "shp.zip": "application/zip",
    "geojson": "application/geo+json",
}
#: Longest text value a DBF field holds, bytes (longer text is cut in a Shapefile).
DBF_MAX_BYTES = 254
#: The files of one Shapefile set, as zipped.
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


# --- safe file names ----------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def export_format(path: str | Path) -> str:
    """``'gpkg'``, ``'shp.zip'`` or ``'geojson'`` from the file name (case-insensitive); anything else
    is an :class:`InputError`."""
    name = Path(path).name.lower()
    for suffix in EXPORT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix[1:]
    raise InputError(
        f"{Path(path).name!r}: export format is chosen by the file name ending: {', '.join(EXPORT_SUFFIXES)}"
    )


def safe_export_path(
    export_dir: str | Path, requested_name: str, *, suffixes: Iterable[str] = EXPORT_SUFFIXES
) -> Path:
    """The path of ``requested_name`` inside ``export_dir``; :class:`InputError` for any name that
    could reach elsewhere or that is odd.

    Accepted: a bare file name of ASCII letters, digits, ``.``, ``_`` and ``-`` (at most 120
    characters, starting with a letter or digit, no ``..``, not a Windows device name) ending with one
    of ``suffixes``. Refused: separators (``/``, ``\\``), absolute paths, ``..``, control characters,
    spaces, non-ASCII text, and an existing symlink (or any existing non-file) at that name whose
    target lies outside the directory. The returned path is absolute, below ``export_dir`` resolved.
    """
    if not isinstance(requested_name, str):
        raise InputError("export file name must be text")
    shown = requested_name if len(requested_name) <= 80 else requested_name[:77] + "..."
    if not _NAME_RE.fullmatch(requested_name) or ".." in requested_name:
        raise InputError(
            f"export file name {shown!r} refused: use letters, digits, '.', '_' and '-' only "
            "(no folders, no '..'), e.g. sites_canteen.gpkg"
        )
    lower = requested_name.lower()
    sfx = tuple(s.lower() for s in suffixes)
    if not any(lower.endswith(s) and len(lower) > len(s) for s in sfx):
        raise InputError(f"export file name {shown!r} refused: it must end with {', '.join(sfx)}")
    if lower.split(".", 1)[0] in _RESERVED:
        raise InputError(f"export file name {shown!r} refused: reserved device name")
    base = Path(export_dir).resolve()
    target = base / requested_name
    if target.is_symlink():
        real = target.resolve()
        if real.parent != base:
            raise InputError(
                f"export file name {shown!r} refused: it is a link pointing outside the export directory"
            )
        raise InputError(f"export file name {shown!r} refused: it is a link")
    if os.path.lexists(target) and not target.is_file():
        raise InputError(f"export file name {shown!r} refused: not a regular file")
    if target.resolve().parent != base:  # belt and braces
        raise InputError(f"export file name {shown!r} refused: outside the export directory")
    return target


# --- writers ------------------------------------------------------------------------------------


def export(
    result: PlanResult,
    path: str | Path,
    *,
    sites: SiteChoice | None = None,
    category: str | None = None,
    minutes: Iterable[float] | None = None,
) -> Path:
    """Write the plan (and the chosen ``sites``) to ``path``: ``.gpkg``, ``.shp.zip`` or ``.geojson``
    (see the module docstring). The file is written to a temporary name beside ``path`` and moved into
    place, so a reader never sees half a file; parent folders are created. Returns ``path``."""
    path = Path(path)
    fmt = export_format(path)
    layers = export_layers(result, sites=sites, category=category, minutes=minutes)
    info = export_info(result, layers, sites, category)
    catalog = result.data.catalog
    writers: dict[str, Callable[[Path], object]] = {
        "gpkg": lambda p: _write_gpkg(layers, info, p, catalog),
        "shp.zip": lambda p: _write_shp_zip(layers, info, p, catalog),
        "geojson": lambda p: p.write_text(_geojson(layers, info, sites), encoding="utf-8"),
    }
    atomic_write(path, lambda tmp: _write_as(tmp, fmt, writers[fmt]))
    log.info("wrote %s (%s)", path, info["layers"])
    return path


def _write_as(tmp: Path, fmt: str, write: Callable[[Path], object]) -> None:
    """``write`` a new file named ``*.<fmt>`` (GDAL goes by the file name ending) in a temporary
    folder beside ``tmp``, then move it onto ``tmp``."""
    with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".export-") as td:
        staged = Path(td) / f"export.{fmt}"
        write(staged)
        os.replace(staged, tmp)


def _write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], path: Path, catalog: Catalog
) -> None:
    import pyogrio

    for i, (name, gdf) in enumerate(layers.items()):
        frame, _ = _prepare(_geometry(gdf, name), shapefile=False)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=name,
            driver="GPKG",
            geometry_type=GEOMETRY_TYPES.get(name, "Unknown"),
            layer_options={
                "DESCRIPTION": f"{LAYER_DOCS.get(name, name)}. {OSM_ATTRIBUTION} (ODbL)",
                "IDENTIFIER": name,
            },
            # GeoPackage 1.2: opens without warnings in older GDAL/QGIS/ArcGIS too
            dataset_options={"VERSION": "1.2"} if i == 0 else None,
        )
    pyogrio.write_dataframe(
        pd.DataFrame({"key": list(info), "value": [str(v) for v in info.values()]}),
        path,
        layer="export_info",
        driver="GPKG",
        layer_options={"DESCRIPTION": f"about this export. {OSM_ATTRIBUTION}"},
    )
    pyogrio.write_dataframe(
        fields_table(layers, None, catalog),
        path,
        layer="fields",
        driver="GPKG",
        layer_options={"DESCRIPTION": "what each field means"},
    )


def _write_shp_zip(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], path: Path, catalog: Catalog
) -> None:
    names = {
        layer: shapefile_field_names([c for c in gdf.columns if c != gdf.geometry.name])
        for layer, gdf in layers.items()
    }
    cut_total = 0
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".shp-") as td:
        folder = Path(td)
        for layer, gdf in layers.items():
            cut_total += _write_shapefile(gdf, layer, names[layer], folder)
        buf = io.StringIO()
        fields_table(layers, names, catalog).to_csv(
            buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
        )
        readme = _readme(layers, info, cut_total)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for layer in layers:
                for ext in _SHP_PARTS:
                    f = folder / f"{layer}{ext}"
                    if f.exists():
                        z.write(f, arcname=f.name)
            z.writestr("fields.csv", "\ufeff" + buf.getvalue())
            z.writestr("README.txt", readme)


def _write_shapefile(gdf: gpd.GeoDataFrame, layer: str, names: Mapping[str, str], folder: Path) -> int:
    """Write ``layer`` as ``folder/<layer>.shp`` (and its parts, ``.cpg`` saying UTF-8) with the DBF
    field ``names``. Returns the number of text values cut to fit DBF."""
    import pyogrio

    frame, cut = _prepare(_geometry(gdf, layer), shapefile=True)
    pyogrio.write_dataframe(
        frame.rename(columns=names),
        folder / f"{layer}.shp",
        driver="ESRI Shapefile",
        encoding="UTF-8",
        geometry_type=GEOMETRY_TYPES.get(layer, "Unknown"),
    )
    cpg = folder / f"{layer}.cpg"
    if not cpg.exists() or cpg.read_text(encoding="ascii").strip().upper() not in ("UTF-8", "UTF8"):
        cpg.write_text("UTF-8", encoding="ascii")
    return cut


def _readme(layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], cut: int) -> str:
    """README.txt of the Shapefile zip (CRLF line ends): the export facts, the layers, the CRS and
    encoding, the field name rule and where SAMPLE data enters."""
    lines = [info["title"], "=" * 60, "", f"Attribution: {OSM_ATTRIBUTION}", LICENSE, ""]
    lines += [f"{k}: {v}" for k, v in info.items() if k not in ("title", "attribution", "license")]
    lines += ["", "Layers (one Shapefile set each: .shp .shx .dbf .prj .cpg):"]
    for name, gdf in layers.items():
        geometry, doc = GEOMETRY_TYPES.get(name, ""), LAYER_DOCS.get(name, "")
        lines.append(f"  {name}.shp  {geometry}, {len(gdf)} features — {doc}")
    lines += [
        "",
        "Coordinate system: EPSG:4326, WGS84 longitude/latitude in degrees (see each .prj). These are not",
        "GCJ-02 (高德/腾讯) or BD-09 (百度) coordinates: convert before overlaying on those basemaps.",
        "Text encoding: UTF-8 (each .cpg says so); Chinese names are stored as UTF-8.",
        "Field names: DBF allows 10 characters. fields.csv lists, per layer, the short field name, the full",
        "name, its type and meaning. Rule: keep names of up to 10 characters; otherwise abbreviate words",
        "(community->comm, nearest->nr, share->sh, facility->fac, residents->res, …), then drop underscores,",
        "then keep the last word (up to 4 characters) and cut the rest; clashes get a number at the end.",
        "Null numbers mean unknown or unreachable.",
        "SAMPLE data: rows whose source is 'sample' (or fields sample_cats, nearest_facility_source, "
        "baseline,",
        "sources naming 'sample') rest on authored example facilities, not observed data.",
    ]
    if cut:
        lines.append(
            f"{cut} text values longer than {DBF_MAX_BYTES} bytes were cut to fit DBF; "
            "the GeoPackage export keeps them whole."
        )
    return "\r\n".join(lines) + "\r\n"


def _geojson(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], sites: SiteChoice | None
) -> str:
    """The GeoJSON export: the chosen sites (polygon where known, else point) when ``sites`` is
    given, else the communities; exterior rings counter-clockwise (RFC 7946)."""
    if sites is not None:
        name = "sites"
        gdf = sites.sites.copy()
        gdf["attribution"] = OSM_ATTRIBUTION
    else:
        name = "communities"
        gdf = layers["communities"]
    frame, _ = _prepare(gdf.to_crs(WGS84), shapefile=False)
    geoms = shapely.orient_polygons(frame.geometry.to_numpy(), exterior_cw=False)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=WGS84, index=frame.index))
    n_sample = info.get("sample_data", "")
    members = {
        "name": name,
        "attribution": OSM_ATTRIBUTION,
        "license": LICENSE,
        "sample_data": {"used": not n_sample.startswith("no "), "note": n_sample},
        "metadata": dict(info),
    }
    return geojson_text(frame, members)


# --- values as written --------------------------------------------------------------------------


def _prepare(gdf: gpd.GeoDataFrame, *, shapefile: bool) -> tuple[gpd.GeoDataFrame, int]:
    """Values as written: inf -> null, object columns as text (None for missing), booleans as 0/1
    in a Shapefile, text cut to 254 bytes for DBF. Returns (frame, number of cut values)."""
    out = gdf.copy()
    cut = 0
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("int32") if shapefile else s.astype(bool)
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.astype(float).replace([np.inf, -np.inf], np.nan)
        elif pd.api.types.is_integer_dtype(s):
            out[col] = s.astype("int64")
        else:
            vals, n_cut = _text_values(s.tolist(), shapefile=shapefile)
            out[col] = pd.Series(vals, index=out.index, dtype=object)
            cut += n_cut
    return out, cut


def _text_values(values: list[object], *, shapefile: bool) -> tuple[list[str | None], int]:
    """Values of a text column as written: None for missing, booleans as 0/1 in a Shapefile (else
    True/False), text cut to :data:`DBF_MAX_BYTES` bytes in a Shapefile. Returns (values, number cut)."""
    out: list[str | None] = []
    cut = 0
    for v in values:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append(None)
            continue
        if isinstance(v, (bool, np.bool_)):
            v = str(int(v)) if shapefile else str(bool(v))
        text = v if isinstance(v, str) else str(v)
        if shapefile and len(text.encode("utf-8")) > DBF_MAX_BYTES:
            text = text.encode("utf-8")[:DBF_MAX_BYTES].decode("utf-8", errors="ignore")
            cut += 1
        out.append(text)
    return out, cut


def _geometry(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Geometries of the layer's declared type (polygons as MultiPolygon)."""
    if GEOMETRY_TYPES.get(layer) == "MultiPolygon" and len(gdf):
        geoms = gdf.geometry.to_numpy()
        single = shapely.get_type_id(geoms) == 3
        geoms = geoms.copy()
        geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    return gdf
