"""Exports for designers: GeoPackage, zipped Shapefile, GeoJSON and DXF (CAD), in the coordinate
system asked for (:mod:`.export_crs`: WGS84 by default, CGCS2000, its Gauss–Krüger zone, GCJ-02 or any
EPSG code; DXF in the region's CGCS2000 Gauss–Krüger zone by default).

:func:`export` picks the format from the file name:

* ``.gpkg`` — one GeoPackage with the layers ``communities`` (polygons with coverage per category),
  ``gaps`` (the gap list with community polygons), ``sites`` (chosen sites, routing points, with their
  size, suggested floor area and nearest existing facility), ``site_areas`` (the chosen sites'
  polygons where known), ``candidates`` (every candidate tested, ``usable`` and a bilingual
  ``reason``), ``isochrones`` (service areas of the category now and with the chosen sites),
  ``context_streets`` and ``context_buildings`` (OSM streets and buildings within 200 m of the sites)
  and two attribute tables: ``export_info`` (key/value: attribution, region, coordinate system,
  weighting, method, sample-data notes) and ``fields`` (what each field means, with its Chinese
  label). Each layer's description (``gpkg_contents``) carries the OSM attribution; the layers' CRS is
  the one asked for.
* ``.shp.zip`` — a zip with one Shapefile set per layer (``.shp .shx .dbf .prj .cpg``; the ``.prj``
  states the coordinate system, the ``.cpg`` says UTF-8, so Chinese text stays intact),
  ``README.txt`` (attribution, CRS, encoding, sample-data notes, layers) and ``fields.csv`` (layer,
  short field name, full name, Chinese label, type, description; UTF-8 with BOM so Excel opens it).
  DBF field names are at most 10 characters and readable (``cnt_share``, ``near_src``); the mapping
  from the full names is :func:`shapefile_field_names`. Text longer than 254 bytes (the DBF limit) is
  cut at a character boundary and counted in README.txt.
* ``.geojson`` — one FeatureCollection: the chosen sites (polygon where known, else point) when
  ``sites`` is given, else the communities; top-level members ``attribution``, ``sample_data`` and
  ``metadata``. In WGS84 it is RFC 7946 (exterior rings counter-clockwise, no ``crs`` member). In
  another coordinate system, GeoJSON being WGS84 by definition, the file says so twice: the 2008
  ``crs`` member (``urn:ogc:def:crs:EPSG::4544``, which GDAL/QGIS read) and a top-level
  ``coordinate_system``; GCJ-02 has no EPSG code, so only ``coordinate_system`` marks it.
* ``.dxf`` — a CAD drawing (:mod:`.dxf`) in metres: site outlines and labels, service areas, gap
  communities, streets and buildings within 200 m; a geographic ``crs`` is refused.

Every layer has an ``attribution`` field (© OpenStreetMap contributors) and says where SAMPLE data
enters: ``communities.sample_cats`` (categories whose nearest facility is sample data),
``gaps.nearest_facility_source``, ``sites.baseline`` (the sources of the existing facilities held
fixed, e.g. ``sample:6``), ``isochrones.sources``; ``source`` fields say osm/user/sample.
Infinite values (a facility that cannot be reached) are written as null. The ``lon``/``lat`` fields
are WGS84 degrees in every coordinate system.

:func:`safe_export_path` turns a requested download name into a path that cannot leave the export
directory.

This module writes the formats; the layers and the export facts are built in
:mod:`.export_layers`, the field names and meanings in :mod:`.export_fields`, the coordinate systems
in :mod:`.export_crs`, the drawing in :mod:`.dxf`.
"""

from __future__ import annotations

import csv
import io
import json
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
from .._common import WGS84, atomic_write, json_default
from ..errors import InputError
from ._geojson import geojson_text
from .export_crs import CRS_KEYS, OutputCrs, resolve_output_crs
from .export_fields import field_description, fields_table, shapefile_field_names
from .export_layers import GEOMETRY_TYPES, LAYER_DOCS, LAYER_ORDER, LICENSE, export_info, export_layers

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Catalog
    from ..pipeline import PlanResult
    from ..planning.sites import SiteChoice

__all__ = [
    "CRS_KEYS",
    "EXPORT_SUFFIXES",
    "LAYER_ORDER",
    "MEDIA_TYPES",
    "OutputCrs",
    "export",
    "export_format",
    "export_info",
    "export_layers",
    "field_description",
    "resolve_output_crs",
    "safe_export_path",
    "shapefile_field_names",
]

log = logging.getLogger(__name__)

#: File name endings :func:`export` understands.
EXPORT_SUFFIXES: tuple[str, ...] = (".gpkg", ".shp.zip", ".geojson", ".dxf")
#: Media types for downloads, by :func:`export_format`.
MEDIA_TYPES: Mapping[str, str] = {
    "gpkg": "application/geopackage+sqlite3",
    "shp.zip": "application/zip",
    "geojson": "application/geo+json",
    "dxf": "image/vnd.dxf",
}
#: Longest text value a DBF field holds, bytes (longer text is cut in a Shapefile).
DBF_MAX_BYTES = 254
#: The files of one Shapefile set, as zipped.
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


# --- safe file names ----------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def export_format(path: str | Path) -> str:
    """``'gpkg'``, ``'shp.zip'``, ``'geojson'`` or ``'dxf'`` from the file name (case-insensitive);
    anything else is an :class:`InputError`."""
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
    crs: str | OutputCrs | None = None,
) -> Path:
    """Write the plan (and the chosen ``sites``) to ``path``: ``.gpkg``, ``.shp.zip``, ``.geojson`` or
    ``.dxf`` (see the module docstring), in the coordinate system ``crs`` (``wgs84``, ``cgcs2000``,
    ``cgcs2000-gk``, ``gcj02`` or ``EPSG:n``; default ``wgs84``, for DXF ``cgcs2000-gk``; see
    :func:`~circles.outputs.export_crs.resolve_output_crs`). The file is written to a temporary name
    beside ``path`` and moved into place, so a reader never sees half a file; parent folders are
    created. Returns ``path``."""
    path = Path(path)
    fmt = export_format(path)
    out_crs = resolve_output_crs(
        crs, result.data.region.bbox, default="cgcs2000-gk" if fmt == "dxf" else "wgs84"
    )
    if fmt == "dxf" and not out_crs.projected:
        raise InputError(
            f"DXF is drawn in metres: --crs {out_crs.key} is in degrees; use cgcs2000-gk (the default "
            "for .dxf) or a projected EPSG:n"
        )
    layers = export_layers(result, sites=sites, category=category, minutes=minutes)
    info = export_info(result, layers, sites, category)
    info["crs"] = (
        f"{out_crs.label}; {out_crs.units}. Areas and distances computed in {result.data.region.metric_crs}"
    )
    if not out_crs.is_wgs84:
        layers = {name: out_crs.apply(gdf) for name, gdf in layers.items()}
    catalog = result.data.catalog
    cat = category or (sites.category if sites is not None else None)
    writers: dict[str, Callable[[Path], object]] = {
        "gpkg": lambda p: _write_gpkg(layers, info, p, catalog),
        "shp.zip": lambda p: _write_shp_zip(layers, info, p, catalog, out_crs),
        "geojson": lambda p: p.write_text(_geojson(layers, info, sites, out_crs), encoding="utf-8"),
        "dxf": lambda p: _write_dxf(layers, info, p, out_crs, cat),
    }
    atomic_write(path, lambda tmp: _write_as(tmp, fmt, writers[fmt]))
    log.info("wrote %s (%s; %s)", path, info["layers"], out_crs.key)
    return path


def _write_dxf(
    layers: Mapping[str, gpd.GeoDataFrame],
    info: Mapping[str, str],
    path: Path,
    out_crs: OutputCrs,
    cat: str | None,
) -> None:
    from .dxf import write_dxf

    write_dxf(layers, info, path, out_crs, cat)


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
    layers: Mapping[str, gpd.GeoDataFrame],
    info: Mapping[str, str],
    path: Path,
    catalog: Catalog,
    out_crs: OutputCrs,
) -> None:
    names = {
        layer: shapefile_field_names([c for c in gdf.columns if c != gdf.geometry.name], catalog.keys())
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
        readme = _readme(layers, info, cut_total, out_crs)
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


def _readme(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], cut: int, out_crs: OutputCrs
) -> str:
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
        f"Coordinate system: {out_crs.label}; {out_crs.units} (see each .prj).",
        *_crs_readme_lines(out_crs),
        "Text encoding: UTF-8 (each .cpg says so); Chinese names are stored as UTF-8.",
        "Field names: DBF allows 10 characters. fields.csv lists, per layer, the short field name, the full",
        "name, its Chinese label, type and meaning. Short names are readable: per category <code>_share,",
        "<code>_min, <code>_near (cnt = canteen, pss = party service station, psc = centre, cpx = complex,",
        "lab = labourer harbour, eld = elderly care, kg, pri = primary school, mkt = food market, clin, wc,",
        "park); words cut at a syllable (comm = community, near = nearest, unc = uncovered, res = residents,",
        "hh = households, exist = nearest existing facility); units kept (_m2, _m, _min).",
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


def _crs_readme_lines(out_crs: OutputCrs) -> list[str]:
    """What a reader must know about the coordinate system beyond its name."""
    if out_crs.gcj02:
        return [
            "These are GCJ-02 coordinates (高德/腾讯 map offset): they overlay on those base maps only. They",
            "are NOT WGS84: do not measure with them or mix them with other data.",
        ]
    return [
        "These are not GCJ-02 (高德/腾讯) or BD-09 (百度) coordinates: convert before overlaying on those",
        "basemaps (or export with --crs gcj02).",
    ]


def _geojson(
    layers: Mapping[str, gpd.GeoDataFrame],
    info: Mapping[str, str],
    sites: SiteChoice | None,
    out_crs: OutputCrs,
) -> str:
    """The GeoJSON export: the chosen sites (polygon where known, else point) when ``sites`` is
    given, else the communities; exterior rings counter-clockwise. WGS84: RFC 7946; else the
    coordinates in ``out_crs`` with a ``crs`` member (EPSG codes) and ``coordinate_system``."""
    if sites is not None:
        name = "sites"
        gdf = out_crs.apply(sites.sites.copy())
        gdf["attribution"] = OSM_ATTRIBUTION
    else:
        name = "communities"
        gdf = layers["communities"]
    frame, _ = _prepare(gdf, shapefile=False)
    geoms = shapely.orient_polygons(frame.geometry.to_numpy(), exterior_cw=False)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs, index=frame.index))
    n_sample = info.get("sample_data", "")
    members: dict[str, object] = {
        "name": name,
        "attribution": OSM_ATTRIBUTION,
        "license": LICENSE,
        "sample_data": {"used": not n_sample.startswith("no "), "note": n_sample},
        "metadata": dict(info),
    }
    if out_crs.is_wgs84:
        return geojson_text(frame.to_crs(WGS84), members)
    if out_crs.epsg is not None:
        members = {
            "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{out_crs.epsg}"}}
        } | members
    members = {"coordinate_system": out_crs.label} | members
    geometry = gpd.GeoSeries(frame.geometry.to_numpy(), index=frame.index)  # no CRS: the members say it
    plain = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geometry)
    fc = json.loads(plain.to_json(na="null", show_bbox=False, drop_id=True, to_wgs84=False))
    doc = {"type": "FeatureCollection", **members, "features": fc["features"]}
    return json.dumps(doc, ensure_ascii=False, default=json_default)


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
