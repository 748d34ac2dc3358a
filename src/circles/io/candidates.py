"""Candidate micro-renewal sites (金角银边, 设施嵌入): the candidate table, the kinds of site, and reading
a user's candidate file (points or polygons in WGS84, GCJ-02, BD-09 or an EPSG CRS, declared per
file).

The kinds are defined by the OpenStreetMap tags that mark them (surface parking, vacant and brownfield
land, construction sites, green spaces, disused buildings, markets); :mod:`circles.io.osm_candidates`
finds them in an extract. Whether a candidate can take a facility (interchange greens, private gardens,
parks, sizes) is decided by the rules of ``data/site_rules.toml`` (:mod:`circles.planning.suitability`);
the user overrides that per site with a ``usable`` column in the candidates file or an overrides file
(:func:`read_site_overrides`). Every table here is in WGS84 (EPSG:4326, degrees), areas in m².
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .._common import WGS84, BBox
from ..errors import DataFileError
from . import _files, _lonlat, _tables
from .file_spec import FileSpec
from .osm_features import DEFAULT_METRIC_CRS

__all__ = [
    "CANDIDATE_ALIASES",
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "CANDIDATE_SCHEMA",
    "KIND_ZH",
    "SMALL_GREEN_MAX_M2",
    "OVERRIDE_ALIASES",
    "CandidateKind",
    "candidate_frame",
    "kind_of",
    "parse_usable",
    "read_candidates",
    "read_site_overrides",
]

log = logging.getLogger(__name__)

#: Columns of a candidate table (plus ``geometry``: the site's polygon where known, else a point).
#: ``tags``: the OSM object's tags as JSON text (empty for the user's sites), read by the suitability
#: rules; ``user_usable``: the user's verdict (1 usable, 0 not, NaN not given) and ``user_reason`` its
#: reason, from the candidates file or an overrides file.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "site_id",
    "kind",
    "kind_zh",
    "name",
    "area_m2",
    "source",
    "osm_tag",
    "tags",
    "user_usable",
    "user_reason",
)
_NUMERIC = ("area_m2", "user_usable")

#: The green-space size limit (m²) of the ``large_green`` rule in ``data/site_rules.toml``: a pocket
#: park or a grass corner can take a small facility at its edge (金角银边), a larger green space is
#: green space to keep. Project default; the rules file holds the value used.
SMALL_GREEN_MAX_M2 = 10_000.0


def candidate_frame(rows: list[dict[str, Any]], geoms: Sequence[BaseGeometry]) -> gpd.GeoDataFrame:
    """A candidate table (:data:`CANDIDATE_COLUMNS` + geometry, EPSG:4326) from row dicts (``tags``
    defaults to empty, ``user_usable`` to NaN, ``user_reason`` to empty)."""
    rows = [{"tags": "", "user_usable": np.nan, "user_reason": ""} | r for r in rows]
    df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    df = df.astype(
        {c: object for c in CANDIDATE_COLUMNS if c not in _NUMERIC} | dict.fromkeys(_NUMERIC, "float64")
    )
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(list(geoms), crs=WGS84, index=df.index), crs=WGS84)


# --- kinds of site: OSM tag rules ---------------------------------------------------------------

_LANDUSE_VACANT = {"brownfield", "greenfield", "vacant"}
_LANDUSE_GREEN = {"grass", "village_green", "meadow"}
_LEISURE_GREEN = {"park", "garden"}
_BUILDING_IDLE = {"ruins", "abandoned", "disused", "derelict"}
_PARKING_NOT_SURFACE = {"underground", "multi-storey", "rooftop"}
_IDLE_FLAGS = ("disused", "abandoned")


def _parking(t: Mapping[str, str]) -> str | None:
    if t.get("amenity") == "parking" and t.get("parking") not in _PARKING_NOT_SURFACE:
        return "amenity=parking" + (f", parking={t['parking']}" if "parking" in t else "")
    return None


def _vacant(t: Mapping[str, str]) -> str | None:
    if t.get("landuse") in _LANDUSE_VACANT:
        return f"landuse={t['landuse']}"
    if t.get("vacant") == "yes" and "building" not in t:
        return "vacant=yes"
    return None


def _construction(t: Mapping[str, str]) -> str | None:
    return "landuse=construction" if t.get("landuse") == "construction" else None


def _idle_building(t: Mapping[str, str]) -> str | None:
    b = t.get("building")
    if b is None:
        return None
    if b in _BUILDING_IDLE:
        return f"building={b}"
    for flag in _IDLE_FLAGS:
        if t.get(flag) == "yes":
            return f"building={b}, {flag}=yes"
    prefixed = sorted(k for k in t if k.startswith(("disused:", "abandoned:")))
    if prefixed:
        return f"building={b}, {prefixed[0]}={t[prefixed[0]]}"
    if t.get("vacant") == "yes":
        return f"building={b}, vacant=yes"
    return None


def _green(t: Mapping[str, str]) -> str | None:
    if t.get("landuse") in _LANDUSE_GREEN:
        return f"landuse={t['landuse']}"
    if t.get("leisure") in _LEISURE_GREEN:  # private gardens and parks: the rules say why not
        text = f"leisure={t['leisure']}"
        return text + (f", access={t['access']}" if "access" in t else "")
    return None


def _market(t: Mapping[str, str]) -> str | None:
    return "amenity=marketplace" if t.get("amenity") == "marketplace" else None


@dataclass(frozen=True)
class CandidateKind:
    """One kind of OSM candidate site: ``match(tags)`` returns the matching tag text or None.
    ``max_area_m2`` is kept for callers that set it (larger sites are left out); the kinds here set
    none: size limits are rules in ``data/site_rules.toml`` that say why a site is not usable."""

    key: str
    name_zh: str
    description: str
    match: Callable[[Mapping[str, str]], str | None]
    max_area_m2: float | None = None


#: OSM candidate kinds, first match wins. An object with several matching tags gets the first kind.
CANDIDATE_KINDS: tuple[CandidateKind, ...] = (
    CandidateKind(
        "idle_building",
        "闲置建筑",
        "building with disused/abandoned/vacant tags or building=ruins",
        _idle_building,
    ),
    CandidateKind("vacant_land", "闲置用地", "landuse=brownfield|greenfield|vacant, vacant=yes", _vacant),
    CandidateKind(
        "parking",
        "停车场",
        "surface parking: amenity=parking (not underground/multi-storey/rooftop)",
        _parking,
    ),
    CandidateKind("construction", "在建用地", "landuse=construction (land being redeveloped)", _construction),
    CandidateKind(
        "green_space",
        "小型绿地",
        "landuse=grass|village_green|meadow, leisure=park|garden (the corner of a small public green "
        "space; the rules leave out parks, private gardens, interchange greens and large ones)",
        _green,
    ),
    CandidateKind(
        "market", "集贸市场", "amenity=marketplace (功能置换: share an existing market building)", _market
    ),
)
#: Chinese name of each kind key, and of ``'user'`` (a site from the user's file without a kind).
KIND_ZH = {k.key: k.name_zh for k in CANDIDATE_KINDS} | {"user": "用户候选"}


def kind_of(tags: Mapping[str, str]) -> tuple[CandidateKind, str] | None:
    """The first :data:`CANDIDATE_KINDS` entry matching ``tags`` and the tag text that matched."""
    for kind in CANDIDATE_KINDS:
        text = kind.match(tags)
        if text:
            return kind, text
    return None


# --- candidates from a user file ----------------------------------------------------------------

#: Accepted input headers per output column, first found wins (any case, spaces, full-width forms or a
#: trailing note in brackets such as ``面积（㎡）``).
CANDIDATE_ALIASES: _tables.Aliases = {
    "site_id": (
        "site_id",
        "candidate_id",
        "candidate_",
        "id",
        "fid_",
        "编号",
        "地块编号",
        "点位编号",
        "序号",
    ),
    "name": ("name", "名称", "地块名称", "点位名称", "场地名称", "地址"),
    "kind": ("kind", "type", "类型", "类别", "用地类型", "场地类型"),
    "area_m2": ("area_m2", "area", "面积", "用地面积", "占地面积", "场地面积", "建筑面积"),
    "usable": ("usable", "可用", "是否可用", "可否使用", "可用性"),
    "reason": ("reason", "原因", "理由", "说明"),
}
#: Accepted headers of an overrides file (:func:`read_site_overrides`).
OVERRIDE_ALIASES: _tables.Aliases = {
    "site_id": CANDIDATE_ALIASES["site_id"],
    "usable": CANDIDATE_ALIASES["usable"],
    "reason": CANDIDATE_ALIASES["reason"],
}
#: Cell values read as "usable" / "not usable" (compared lower case, full-width forms folded).
USABLE_YES = frozenset({"1", "yes", "y", "true", "t", "是", "可用", "可以", "能", "√", "✓"})
USABLE_NO = frozenset({"0", "no", "n", "false", "f", "否", "不可用", "不可以", "不能", "×", "✗"})
CANDIDATE_SCHEMA = _tables.Schema(
    "candidate sites", CANDIDATE_ALIASES, labels=("site_id", "name"), numeric=("area_m2",)
)


def read_candidates(
    source: str | Path | FileSpec,
    crs: object = None,
    bbox: BBox | None = None,
    *,
    on_outside: str = "error",
    layer: str | int | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Read a user's candidate sites (points or polygons) into the :data:`CANDIDATE_COLUMNS` table,
    EPSG:4326.

    ``source``, ``crs`` and ``layer`` as for :func:`circles.io.facilities.read_facilities` (Excel, CSV
    with longitude/latitude columns, GeoJSON, GeoPackage, Shapefile; a table without a declared
    coordinate system is refused). Optional columns (headers per :data:`CANDIDATE_ALIASES`):
    ``site_id`` (编号/id; blank ones become ``'<file stem>:<row>'``; must be unique), ``name``,
    ``kind`` (free text, default ``'user'``), ``area_m2`` (面积; m² >= 0; a polygon without it gets its
    own area in ``metric_crs``), ``usable`` (可用: yes/no, 是/否, 1/0; blank = let the rules decide) and
    ``reason`` (原因) overriding the suitability rules for that site. Polygons are kept as polygons
    (repaired with ``make_valid``); lines are refused. ``gdf.attrs`` records the file and how its
    coordinates were read.

    Sites outside the region ``bbox`` (WGS84 degrees): with ``on_outside='drop'`` they are dropped with
    a logged warning naming them (site lists often reach past the district; the planner reads them
    this way); with ``'error'`` (the default here) they raise :class:`OutsideRegionError`; a file with
    every site outside raises either way.
    """
    spec, part = _files.input_spec(source, crs, layer)
    _lonlat.check_on_outside(on_outside)
    src = _files.read_file(spec, part, CANDIDATE_SCHEMA)
    gdf, cols, rows = src.frame, src.columns, src.rows
    ids = _tables.optional_strings(gdf, cols["site_id"])
    names = _tables.optional_strings(gdf, cols["name"])
    rows.labels = _tables.label_values(ids, names, cols["site_id"])

    sites, polygonal = _site_geometries(gdf.geometry.to_numpy().copy(), rows)
    geoms, crs_used = _lonlat.read_as_lonlat(sites, spec.crs, gdf.crs, rows)
    still = polygonal & ~shapely.is_valid(geoms)
    if still.any():
        _lonlat.repair_polygons(geoms, still)

    area = _site_areas(_tables.non_negative(gdf, cols["area_m2"], rows, "m²"), geoms, polygonal, metric_crs)
    ids, _ = _tables.fill_blank_ids(ids, rows)
    dup, values = _tables.duplicated(ids)
    if dup.any():
        raise rows.fail(DataFileError, "duplicate site ids " + ", ".join(repr(v) for v in values), dup)
    kinds = _tables.optional_strings(gdf, cols["kind"])
    kinds = np.where(pd.isna(kinds), "user", kinds)
    usable = parse_usable(_tables.optional_strings(gdf, cols["usable"]), rows)
    reasons = _tables.optional_strings(gdf, cols["reason"])
    out = candidate_frame(
        [
            {
                "site_id": i,
                "kind": k,
                "kind_zh": KIND_ZH.get(k, ""),
                "name": "" if pd.isna(nm) else nm,
                "area_m2": a,
                "source": "user",
                "osm_tag": "",
                "user_usable": u,
                "user_reason": "" if pd.isna(r) else r,
            }
            for i, k, nm, a, u, r in zip(ids, kinds, names, area, usable, reasons)
        ],
        list(geoms),
    )
    out = _lonlat.outside_rows(out, bbox, on_outside, rows, "candidate sites")
    out.attrs.update(source_file=str(spec.path), source_part=rows.part, **crs_used)
    log.info(
        "%s: %d candidate sites read (coordinates read as %s)", rows.source, len(out), crs_used["crs_read_as"]
    )
    return out


def _site_geometries(geoms: np.ndarray, rows: _tables.Rows) -> tuple[np.ndarray, np.ndarray]:
    """``geoms`` checked to be points or (multi)polygons, single-part multipoints unwrapped and invalid
    polygons repaired (logged), in place; and the mask of the polygonal ones."""
    _lonlat.require_geometry(geoms, rows)
    kind_id = shapely.get_type_id(geoms)
    single_multi = (kind_id == 4) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    kind_id = shapely.get_type_id(geoms)
    polygonal = np.isin(kind_id, (3, 6))
    bad = ~(polygonal | (kind_id == 0))
    if bad.any():
        found = _lonlat.type_names(kind_id[bad])
        raise rows.fail(DataFileError, f"candidate sites must be points or polygons, got {found}", bad)
    invalid = polygonal & ~shapely.is_valid(geoms)
    if invalid.any():
        _lonlat.repair_polygons(geoms, invalid)
        log.warning(
            "%s: repaired %d invalid polygons (%s)", rows.source, int(invalid.sum()), rows.where(invalid)
        )
    return geoms, polygonal


def _site_areas(area: np.ndarray, geoms: np.ndarray, polygonal: np.ndarray, metric_crs: str) -> np.ndarray:
    """Areas in m²: the file's where given, else a polygon's own area in ``metric_crs``, else NaN."""
    area = np.array(area, dtype=float)
    if polygonal.any():
        own = gpd.GeoSeries(geoms[polygonal], crs=WGS84).to_crs(metric_crs).area.to_numpy()
        sub = area[polygonal]
        area[polygonal] = np.where(np.isfinite(sub), sub, own)
    return area


# --- the user's verdicts ------------------------------------------------------------------------


def parse_usable(values: np.ndarray, rows: _tables.Rows) -> np.ndarray:
    """Cells of a ``usable`` column as 1.0 (usable), 0.0 (not) or NaN (blank: the rules decide);
    anything else (see :data:`USABLE_YES`, :data:`USABLE_NO`) is a :class:`DataFileError` naming the
    rows."""
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), bool)
    for i, v in enumerate(values):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        key = unicodedata.normalize("NFKC", str(v)).strip().lower()
        if key.endswith(".0"):
            key = key[:-2]
        if key in USABLE_YES:
            out[i] = 1.0
        elif key in USABLE_NO:
            out[i] = 0.0
        else:
            bad[i] = True
    if bad.any():
        raise rows.fail(DataFileError, "usable must be yes/no (是/否, 1/0) or blank", bad)
    return out


def read_site_overrides(source: str | Path) -> pd.DataFrame:
    """The user's verdicts on candidate sites from a CSV (UTF-8, with or without BOM) or Excel file
    with the columns ``site_id`` (编号), ``usable`` (可用: yes/no, 是/否, 1/0) and optionally ``reason``
    (原因). Returns ``site_id``, ``user_usable`` (1.0/0.0) and ``user_reason`` (text, may be empty);
    rows with a blank ``usable`` are dropped. :class:`DataFileError` for a missing column, a bad value
    or a site id listed twice."""
    path = Path(source)
    if not path.is_file():
        raise DataFileError(f"overrides file not found: {path}")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, dtype=object)
        else:
            frame = pd.read_csv(path, dtype=object, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise DataFileError(f"{path}: cannot read as a CSV (UTF-8) or Excel table ({e})") from e
    rows = _tables.Rows(path)
    cols = _tables.find_columns(list(frame.columns), OVERRIDE_ALIASES)
    missing = [f for f in ("site_id", "usable") if cols[f] is None]
    if missing:
        raise _tables.missing_columns_error(rows, OVERRIDE_ALIASES, missing, list(frame.columns), {})
    ids = _tables.optional_strings(frame, cols["site_id"])
    usable = parse_usable(_tables.optional_strings(frame, cols["usable"]), rows)
    reasons = _tables.optional_strings(frame, cols["reason"])
    keep = np.isfinite(usable) & pd.notna(ids)
    out = pd.DataFrame(
        {
            "site_id": ids[keep].astype(str),
            "user_usable": usable[keep],
            "user_reason": ["" if pd.isna(r) else str(r) for r in reasons[keep]],
        }
    )
    dup = out["site_id"].duplicated(keep=False)
    if dup.any():
        raise DataFileError(
            f"{path}: site ids listed twice: " + ", ".join(dict.fromkeys(out.loc[dup, "site_id"][:10]))
        )
    log.info("%s: %d site verdicts", path, len(out))
    return out
