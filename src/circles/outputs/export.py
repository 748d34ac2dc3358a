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
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import OSM_ATTRIBUTION, __version__
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult
    from ..planning.sites import SiteChoice

__all__ = [
    "EXPORT_SUFFIXES",
    "LAYER_ORDER",
    "MEDIA_TYPES",
    "export",
    "export_format",
    "export_layers",
    "field_description",
    "safe_export_path",
    "shapefile_field_names",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
#: File name endings :func:`export` understands.
EXPORT_SUFFIXES: tuple[str, ...] = (".gpkg", ".shp.zip", ".geojson")
#: Media types for downloads, by :func:`export_format`.
MEDIA_TYPES: Mapping[str, str] = {
    "gpkg": "application/geopackage+sqlite3",
    "shp.zip": "application/zip",
    "geojson": "application/geo+json",
}
#: Layers in the order they are written (those without rows for the export are still written, empty).
LAYER_ORDER: tuple[str, ...] = ("communities", "gaps", "sites", "site_areas", "candidates", "isochrones")
LICENSE = (
    "Map data © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0; "
    "derived data stays under the ODbL."
)
DBF_MAX_BYTES = 254
SHP_FIELD_LEN = 10

_GEOMETRY_TYPES = {
    "communities": "MultiPolygon",
    "gaps": "MultiPolygon",
    "sites": "Point",
    "site_areas": "MultiPolygon",
    "candidates": "Point",
    "isochrones": "MultiPolygon",
}
_LAYER_DOCS = {
    "communities": "communities (小区/社区) with the covered share, median minutes and nearest facility per category",
    "gaps": "gap list (配套缺失清单): one row per community and category short of its target, ranked by severity",
    "sites": "chosen micro-renewal sites (金角银边) at their routing point, ranked, with what each newly covers",
    "site_areas": "footprints of the chosen sites where the data has a polygon (same fields as sites)",
    "candidates": "every candidate site tested, with what it would newly cover on its own",
    "isochrones": "service areas: where the nearest facility of the category is within each threshold, now and with the chosen sites",
}


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


# --- layers -------------------------------------------------------------------------------------


def export_layers(
    result: PlanResult,
    *,
    sites: SiteChoice | None = None,
    category: str | None = None,
    minutes: Iterable[float] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """The export's layers (EPSG:4326, full field names), in :data:`LAYER_ORDER`.

    ``communities`` and ``gaps`` always; ``sites``, ``site_areas`` and ``candidates`` with ``sites``;
    ``isochrones`` when a category is known (``category`` or ``sites.category``): the service areas
    at ``minutes`` (default the 5/10/15 levels and the category's thresholds) per travel profile the
    category uses, ``scenario`` ``existing`` and, with sites, ``with_sites``.
    """
    from .plan_files import coverage_layer, gaps_layer

    if sites is not None and category is not None and category != sites.category:
        raise InputError(f"category {category!r} differs from the sites' category {sites.category!r}")
    category = category or (sites.category if sites is not None else None)
    if category is not None:
        result.data.catalog.get(category)
    layers: dict[str, gpd.GeoDataFrame] = {}

    comm = coverage_layer(result)
    src = result.data.communities.get("source")
    if src is not None:
        comm.insert(
            comm.columns.get_loc("residents") + 1 if "residents" in comm else len(comm.columns) - 1,
            "source",
            src.fillna("").astype(str).to_numpy(),
        )
    comm["sample_cats"] = _sample_categories(result)
    layers["communities"] = comm

    gaps = gaps_layer(result)
    layers["gaps"] = gaps

    if sites is not None:
        from ..planning.sites import site_points

        pts = site_points(sites)
        layers["sites"] = pts
        poly = np.isin(shapely.get_type_id(sites.sites.geometry.to_numpy()), (3, 6))
        layers["site_areas"] = sites.sites[poly].reset_index(drop=True)
        cand = sites.candidates.copy()
        cand = cand.set_geometry(gpd.points_from_xy(cand["lon"], cand["lat"], crs=WGS84))
        cand["category"] = sites.category
        cand["weight_kind"] = sites.weight_kind
        layers["candidates"] = gpd.GeoDataFrame(cand, geometry="geometry", crs=WGS84)
    if category is not None:
        layers["isochrones"] = _isochrones(result, category, sites, minutes)
    for name, gdf in layers.items():
        gdf = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
        gdf["attribution"] = OSM_ATTRIBUTION
        layers[name] = gdf
    return {k: layers[k] for k in LAYER_ORDER if k in layers}


def _sample_categories(result: PlanResult) -> np.ndarray:
    cov = result.coverage
    n = len(result.data.communities)
    out = [[] for _ in range(n)]
    if len(cov) and "nearest_facility_source" in cov:
        s = cov[cov["nearest_facility_source"].astype(str) == "sample"]
        for row, key in zip(s["community_row"].to_numpy(), s["category"].astype(str)):
            out[int(row)].append(key)
    return np.array([",".join(v) for v in out], dtype=object)


def _isochrones(
    result: PlanResult, category: str, sites: SiteChoice | None, minutes: Iterable[float] | None
) -> gpd.GeoDataFrame:
    from ..outputs.layers import SIMPLIFY_M, facility_snap
    from ..routing.isochrones import DEFAULT_MINUTES, service_areas

    cat = result.data.catalog.get(category)
    types = sorted(set(result.data.communities["type"].astype(str)))
    profiles: dict[str, set[float]] = {}
    for t in types:
        if cat.applies(t):
            profiles.setdefault(cat.profile_for(t), set()).add(cat.threshold_min(t))
    if not profiles:
        profiles = {"walk": {cat.threshold_min("urban")}}
    fac = result.data.facilities
    fac_src = (
        "+".join(sorted(set(fac.loc[fac["category"] == category, "source"].fillna("").astype(str)))) or "none"
    )
    frames = []
    for prof, thresholds in sorted(profiles.items()):
        if prof not in result.data.graphs:
            continue
        mins = (
            sorted(set(float(m) for m in minutes))
            if minutes is not None
            else sorted(set(DEFAULT_MINUTES) | thresholds)
        )
        g, fsnap = facility_snap(result, category, prof)
        scen = [("existing", fsnap, fac_src)]
        if sites is not None and len(sites.sites):
            xy = result.data.net.project(
                sites.sites["lon"].to_numpy(dtype=float), sites.sites["lat"].to_numpy(dtype=float)
            )
            fxy = np.vstack([fsnap.point_xy, xy]) if len(fsnap) else xy
            both = g.snap(fxy, strict=False)
            scen.append(("with_sites", both, f"{fac_src}+new_sites" if fac_src != "none" else "new_sites"))
        for name, snap, srcs in scen:
            isos = service_areas(g, snap, mins)
            metric = [shapely.simplify(i.polygon, SIMPLIFY_M) for i in isos]
            gdf = gpd.GeoDataFrame(
                {
                    "category": category,
                    "category_zh": cat.name_zh,
                    "scenario": name,
                    "minutes": [i.minutes for i in isos],
                    "profile": prof,
                    "area_m2": [round(i.area_m2, 1) for i in isos],
                    "street_m": [round(i.street_m, 1) for i in isos],
                    "sources": srcs,
                },
                geometry=metric,
                crs=result.data.net.crs,
            )
            frames.append(gdf.iloc[::-1])
    cols = ["category", "category_zh", "scenario", "minutes", "profile", "area_m2", "street_m", "sources"]
    if not frames:
        return gpd.GeoDataFrame(pd.DataFrame(columns=cols), geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    out = pd.concat(frames, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=result.data.net.crs).to_crs(WGS84)
    empty = out.geometry.is_empty | out.geometry.isna()
    return out[~empty].reset_index(drop=True)


# --- field names and descriptions ---------------------------------------------------------------

#: Word abbreviations used to fit Shapefile field names into 10 characters (see
#: :func:`shapefile_field_names`).
ABBREVIATIONS: Mapping[str, str] = {
    "added": "add",
    "area": "area",
    "attribution": "attrib",
    "available": "avl",
    "baseline": "base",
    "canteen": "cant",
    "care": "care",
    "category": "cat",
    "centre": "ctr",
    "clinic": "clin",
    "closes": "cls",
    "communities": "comm",
    "community": "comm",
    "complex": "cpx",
    "covered": "cov",
    "district": "dist",
    "elderly": "eld",
    "facility": "fac",
    "food": "food",
    "harbour": "hbr",
    "households": "hh",
    "kindergarten": "kg",
    "labourer": "lab",
    "level": "lvl",
    "market": "mkt",
    "minutes": "min",
    "nearest": "nr",
    "party": "pty",
    "population": "pop",
    "primary": "pri",
    "profile": "prof",
    "public": "pub",
    "required": "req",
    "residents": "res",
    "scenario": "scen",
    "school": "sch",
    "service": "svc",
    "severity": "sev",
    "share": "sh",
    "shortfall": "short",
    "source": "src",
    "station": "stn",
    "target": "tgt",
    "threshold": "thr",
    "time": "t",
    "toilet": "wc",
    "uncovered": "unc",
    "weight": "wt",
}


def _short(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "", name) or "field"
    if not clean[0].isalpha():
        clean = "f" + clean
    if len(clean) <= SHP_FIELD_LEN:
        return clean
    tokens = [ABBREVIATIONS.get(t.lower(), t) for t in clean.split("_") if t]
    joined = "_".join(tokens)
    if len(joined) <= SHP_FIELD_LEN:
        return joined
    joined = "".join(tokens)
    if len(joined) <= SHP_FIELD_LEN:
        return joined
    last = tokens[-1][:4] if len(tokens) > 1 else ""
    return ("".join(tokens[:-1]) if last else joined)[: SHP_FIELD_LEN - len(last)] + last


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Deterministic full name -> DBF field name (at most 10 characters, unique ignoring case).

    1. Keep the name when it has at most 10 characters (non-ASCII letters and other characters than
       ``A-Z a-z 0-9 _`` are dropped first; a leading digit gets an ``f``).
    2. Otherwise replace each ``_``-separated word by its abbreviation (:data:`ABBREVIATIONS`, e.g.
       community -> comm, nearest -> nr, share -> sh) and keep the result if it fits;
    3. else drop the underscores; 4. else keep the last word (at most 4 characters) and cut the rest
       to fit.
    5. A name already taken (ignoring case, earlier columns first) gets a number at its end: ``x1``,
       ``x2`` …
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for col in columns:
        base = _short(str(col))
        name, n = base, 1
        while name.lower() in used:
            suffix = str(n)
            name = base[: SHP_FIELD_LEN - len(suffix)] + suffix
            n += 1
        used.add(name.lower())
        out[str(col)] = name
    return out


_FIELD_DOCS: Mapping[str, str] = {
    "community_id": "community id (OSM id osm:w… of the residential area, or the id in the user's file)",
    "name": "name (Chinese as in the data)",
    "type": "community type: urban / rural / industrial (城镇/乡村/产业)",
    "district": "district (区) the community lies in",
    "area_m2": "area in m² (community: residential area; site: site size where known, else null)",
    "households": "households (户), null when unknown",
    "population": "residents (人), null when unknown",
    "residents": "residents (population, or households x 2.49), null when unknown",
    "source": "data source: osm / user / sample (SAMPLE = authored example data, not observed)",
    "sample_cats": "categories whose nearest facility here is SAMPLE data (not observed); empty when none",
    "n_gaps": "number of coverage gaps of the community",
    "weight_kind": "what the weights measure: area = m² of residential area (no population data), population/households/raster = people",
    "attribution": "© OpenStreetMap contributors (ODbL)",
    "severity_rank": "rank of the gap, 1 = most severe",
    "kind": "gap kind (coverage/capacity) or site kind (parking, green_space, market, vacant_land, idle_building, construction, user)",
    "community_name": "community name",
    "community_type": "community type: urban / rural / industrial",
    "category": "facility category key",
    "category_zh": "facility category (Chinese)",
    "level_min": "service circle level of the category, minutes (5/10/15)",
    "threshold_min": "travel-time threshold, minutes",
    "profile": "travel profile (walk / bike)",
    "covered_share": "share of residents (or area) within the threshold",
    "target_share": "share the community should reach",
    "uncovered_residents": "residents outside the threshold (null when weights are area)",
    "uncovered_area_m2": "residential area outside the threshold, m²",
    "nearest_facility_id": "id of the facility serving most of the community",
    "nearest_facility_name": "name of that facility",
    "nearest_facility_source": "its data source: osm / user / sample (SAMPLE = not observed)",
    "nearest_time_min": "weighted-median travel time to the nearest facility, minutes (null: none reachable)",
    "nearest_walk_m": "weighted-median network distance to the nearest facility, m (null: none reachable)",
    "required_m2": "floor area required by the capacity rule, m²",
    "available_m2": "floor area available, m²",
    "shortfall_m2": "floor area missing, m²",
    "severity": "severity: uncovered residents (or m²) x time factor",
    "rank": "rank of the chosen site (1 = adds most)",
    "site_id": "site id (osm:w…/osm:n… or the id in the user's candidates file)",
    "kind_zh": "site kind (Chinese)",
    "new_weight": "uncovered weight the site reaches on its own (people, or m² when weight_kind = area)",
    "added_weight": "weight the site adds after the higher-ranked sites (these add up to the objective)",
    "new_residents": "residents the site newly covers on its own (null when weights are area)",
    "added_residents": "residents it adds after the higher-ranked sites (null when weights are area)",
    "new_area_m2": "residential area the site newly covers on its own, m²",
    "added_area_m2": "residential area it adds after the higher-ranked sites, m²",
    "n_communities": "communities the site newly reaches",
    "n_closed": "communities whose gap closes once this site is added",
    "closes_gaps": "names of the communities whose gap closes with this site ('; '-separated)",
    "closes_ids": "ids of those communities ('; '-separated)",
    "snap_m": "distance from the site's routing point to the street, m",
    "lon": "longitude of the routing point, WGS84 degrees",
    "lat": "latitude of the routing point, WGS84 degrees",
    "baseline": "existing facilities of the category kept fixed, by source (sample = SAMPLE data, not observed)",
    "osm_tag": "the OSM tag that made it a candidate",
    "chosen_rank": "rank among the chosen sites, 0 = not chosen",
    "usable": "1 when the candidate could be used",
    "reason": "why a candidate could not be used",
    "scenario": "existing = current facilities; with_sites = plus the chosen sites",
    "minutes": "travel-time threshold, minutes",
    "street_m": "length of street reached, m",
    "sources": "data sources of the facilities behind the area (sample = SAMPLE data)",
    "key": "item",
    "value": "value",
}


def field_description(name: str, catalog=None) -> str:
    """What a field means (also for the per-category ``<key>_share/_min/_nearest`` columns)."""
    if name in _FIELD_DOCS:
        return _FIELD_DOCS[name]
    for suffix, text in (
        ("_share", "share of residents (or area) within the threshold of {}"),
        ("_min", "weighted-median minutes to the nearest {} (null: none reachable)"),
        ("_nearest", "name of the nearest {} (serving most residents)"),
    ):
        if name.endswith(suffix):
            key = name[: -len(suffix)]
            label = key
            if catalog is not None and key in catalog:
                c = catalog.get(key)
                label = f"{c.name_zh} {c.name_en} ({key})"
            return text.format(label)
    return ""


# --- cleaning for writing -----------------------------------------------------------------------


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
            vals = []
            for v in s.tolist():
                if v is None or (not isinstance(v, str) and pd.isna(v)):
                    vals.append(None)
                    continue
                if isinstance(v, (bool, np.bool_)):
                    v = str(int(v)) if shapefile else str(bool(v))
                text = v if isinstance(v, str) else str(v)
                if shapefile and len(text.encode("utf-8")) > DBF_MAX_BYTES:
                    text = text.encode("utf-8")[:DBF_MAX_BYTES].decode("utf-8", errors="ignore")
                    cut += 1
                vals.append(text)
            out[col] = pd.Series(vals, index=out.index, dtype=object)
    return out, cut


def _geometry(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Geometries of the layer's declared type (polygons as MultiPolygon)."""
    if _GEOMETRY_TYPES.get(layer) == "MultiPolygon" and len(gdf):
        geoms = gdf.geometry.to_numpy()
        single = shapely.get_type_id(geoms) == 3
        geoms = geoms.copy()
        geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    return gdf


# --- metadata -----------------------------------------------------------------------------------


def export_info(
    result: PlanResult, layers: Mapping[str, gpd.GeoDataFrame], sites: SiteChoice | None, category: str | None
) -> dict[str, str]:
    """Key/value facts of an export (attribution, region, weighting, sample notes, method …)."""
    from ..pipeline import WEIGHT_LABELS

    data = result.data
    fac = data.facilities
    n_sample = int((fac["source"] == "sample").sum()) if len(fac) else 0
    info = {
        "title": "circles — 15-minute community life circle (15分钟社区生活圈) export",
        "attribution": OSM_ATTRIBUTION,
        "license": LICENSE,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "circles_version": __version__,
        "region": f"{data.region.key} {data.region.name_zh}".strip(),
        "data_source": data.region.source or "",
        "crs": "EPSG:4326 (WGS84 longitude/latitude degrees); areas and distances computed in "
        + data.region.metric_crs,
        "weight_kind": data.weight_kind,
        "weighting": WEIGHT_LABELS.get(data.weight_kind, data.weight_kind),
        "sample_data": (
            f"{n_sample} facilities are SAMPLE data (source = sample), not observed; coverage, gaps "
            "and sites that depend on them are marked (sample_cats, nearest_facility_source, baseline, sources)"
        )
        if n_sample
        else "no sample data used",
        "layers": ", ".join(f"{k} ({len(v)})" for k, v in layers.items()),
    }
    cat = category or (sites.category if sites is not None else None)
    if cat:
        c = data.catalog.get(cat)
        info["category"] = f"{cat} {c.name_zh} {c.name_en}"
    if sites is not None:
        s = sites.solution
        unit = "m² of residential area" if sites.weight_kind == "area" else "residents"
        info.update(
            {
                "sites_method": s.method,
                "sites_k": str(sites.k),
                "sites_objective": f"{s.objective:.1f} {unit} newly covered",
                "sites_bound": f"{s.bound:.1f} (gap {100 * s.gap:.2f}%)",
                "sites_greedy_objective": f"{s.greedy_objective:.1f}",
                "sites_model": f"{len(sites.candidates)} candidates, {sites.demand_points} uncovered points in "
                f"{s.n_groups} groups, {s.n_variables} variables, {s.n_constraints} constraints, "
                f"{s.solve_time_s:.3f} s",
                "sites_baseline": ", ".join(f"{k}:{v}" for k, v in sites.baseline.items()) or "none",
            }
        )
        for i, note in enumerate(sites.notes, start=1):
            info[f"sites_note_{i}"] = note
    for i, note in enumerate(data.notes, start=1):
        info[f"note_{i}"] = note
    return info


def _fields_table(
    layers: Mapping[str, gpd.GeoDataFrame], names: Mapping[str, Mapping[str, str]] | None, catalog
) -> pd.DataFrame:
    rows = []
    for layer, gdf in layers.items():
        for col in gdf.columns:
            if col == gdf.geometry.name:
                continue
            short = names[layer][col] if names is not None else col
            rows.append(
                {
                    "layer": layer,
                    "field": short,
                    "full_name": col,
                    "type": _type_name(gdf[col]),
                    "description": field_description(col, catalog),
                }
            )
    return pd.DataFrame(rows, columns=["layer", "field", "full_name", "type", "description"])


def _type_name(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "real"
    return "text"


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
    place, so a reader never sees half a file. Returns ``path``."""
    path = Path(path)
    fmt = export_format(path)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    layers = export_layers(result, sites=sites, category=category, minutes=minutes)
    info = export_info(result, layers, sites, category)
    suffix = "." + fmt
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()
        if fmt == "gpkg":
            _write_gpkg(layers, info, tmp, result.data.catalog)
        elif fmt == "shp.zip":
            _write_shp_zip(layers, info, tmp, result.data.catalog)
        else:
            _write_geojson(layers, info, tmp, sites)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("wrote %s (%s)", path, info["layers"])
    return path


def _write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], path: Path, catalog) -> None:
    import pyogrio

    for i, (name, gdf) in enumerate(layers.items()):
        frame, _ = _prepare(_geometry(gdf, name), shapefile=False)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=name,
            driver="GPKG",
            geometry_type=_GEOMETRY_TYPES.get(name, "Unknown"),
            layer_options={
                "DESCRIPTION": f"{_LAYER_DOCS.get(name, name)}. {OSM_ATTRIBUTION} (ODbL)",
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
        _fields_table(layers, None, catalog),
        path,
        layer="fields",
        driver="GPKG",
        layer_options={"DESCRIPTION": "what each field means"},
    )


def _write_shp_zip(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], path: Path, catalog
) -> None:
    import pyogrio

    names = {
        layer: shapefile_field_names([c for c in gdf.columns if c != gdf.geometry.name])
        for layer, gdf in layers.items()
    }
    cut_total = 0
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".shp-") as td:
        folder = Path(td)
        for layer, gdf in layers.items():
            frame, cut = _prepare(_geometry(gdf, layer), shapefile=True)
            cut_total += cut
            frame = frame.rename(columns=names[layer])
            pyogrio.write_dataframe(
                frame,
                folder / f"{layer}.shp",
                driver="ESRI Shapefile",
                encoding="UTF-8",
                geometry_type=_GEOMETRY_TYPES.get(layer, "Unknown"),
            )
            cpg = folder / f"{layer}.cpg"
            if not cpg.exists() or cpg.read_text(encoding="ascii").strip().upper() not in ("UTF-8", "UTF8"):
                cpg.write_text("UTF-8", encoding="ascii")
        fields = _fields_table(layers, names, catalog)
        buf = io.StringIO()
        fields.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        readme = _readme(layers, info, cut_total)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for layer in layers:
                for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    f = folder / f"{layer}{ext}"
                    if f.exists():
                        z.write(f, arcname=f.name)
            z.writestr("fields.csv", "\ufeff" + buf.getvalue())
            z.writestr("README.txt", readme)


def _readme(layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], cut: int) -> str:
    lines = [info["title"], "=" * 60, "", f"Attribution: {OSM_ATTRIBUTION}", LICENSE, ""]
    lines += [f"{k}: {v}" for k, v in info.items() if k not in ("title", "attribution", "license")]
    lines += ["", "Layers (one Shapefile set each: .shp .shx .dbf .prj .cpg):"]
    for name, gdf in layers.items():
        lines.append(
            f"  {name}.shp  {_GEOMETRY_TYPES.get(name, '')}, {len(gdf)} features — {_LAYER_DOCS.get(name, '')}"
        )
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
        "SAMPLE data: rows whose source is 'sample' (or fields sample_cats, nearest_facility_source, baseline,",
        "sources naming 'sample') rest on authored example facilities, not observed data.",
    ]
    if cut:
        lines.append(
            f"{cut} text values longer than {DBF_MAX_BYTES} bytes were cut to fit DBF; the GeoPackage export keeps them whole."
        )
    return "\r\n".join(lines) + "\r\n"


def _write_geojson(
    layers: Mapping[str, gpd.GeoDataFrame], info: Mapping[str, str], path: Path, sites: SiteChoice | None
) -> None:
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
    fc = json.loads(frame.to_json(na="null", show_bbox=False, drop_id=True, to_wgs84=True))
    n_sample = info.get("sample_data", "")
    doc = {
        "type": "FeatureCollection",
        "name": name,
        "attribution": OSM_ATTRIBUTION,
        "license": LICENSE,
        "sample_data": {"used": not n_sample.startswith("no "), "note": n_sample},
        "metadata": dict(info),
        "features": fc["features"],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, default=_json_default), encoding="utf-8")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)
