"""The files of ``circles plan --out DIR``: coverage (GeoJSON and long-form CSV), the gap list (CSV and
GeoJSON), the region summary (JSON) and the facilities used (GeoJSON). All EPSG:4326 with the OSM
attribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import OSM_ATTRIBUTION
from .._common import WGS84, atomic_write_text, json_default
from ._geojson import write_geojson
from .tables import (
    COVERAGE_COLUMNS,
    GAP_COLUMNS,
    ROLLUP_COLUMNS,
    Column,
    Sheet,
    columns_for,
    readme_lines,
    write_csv,
    write_xlsx,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = ["coverage_layer", "gaps_layer", "level_walk_m", "measure_note", "write_outputs"]


#: The files ``circles plan --out DIR`` writes (and ``map.html`` beside them).
PLAN_FILE_NAMES = (
    "coverage.geojson",
    "coverage.csv",
    "gaps.csv",
    "gaps.xlsx",
    "coverage.xlsx",
    "gaps.geojson",
    "summary.json",
    "facilities.geojson",
)


def level_walk_m(result: PlanResult) -> dict[int, float] | None:
    """``{level minutes: metres}`` of a distance plan (its level shares are judged at these); None for a
    time plan."""
    if result.data.measure != "distance":
        return None
    return {lv.minutes: float(lv.walk_m) for lv in result.data.catalog.level_table}


def measure_note(result: PlanResult) -> str:
    """One bilingual line for map legends: what the 5/10/15 levels are judged by, e.g. '度量 Measure:
    步行距离 network walking distance — 5/10/15分钟层级 levels = 300/500/1000 m (GB 50180-2018); 乡村
    rural: 骑行分钟 minutes by bicycle'."""
    levels = result.data.catalog.level_table
    names = "/".join(str(lv.minutes) for lv in levels) or "5/10/15"
    if result.data.measure != "distance":
        return f"度量 Measure: 时间 time — {names} 分钟 minutes at the travel profile's speed"
    metres = "/".join(f"{lv.walk_m:g}" for lv in levels)
    return (
        f"度量 Measure: 步行距离 network walking distance — {names}分钟层级 levels = {metres} m "
        "(GB 50180-2018); 乡村 rural: 骑行分钟 minutes by bicycle"
    )


def coverage_layer(result: PlanResult) -> gpd.GeoDataFrame:
    """Communities (EPSG:4326) with one column group per category: ``<key>_share`` (covered share at
    its threshold), ``<key>_min`` (weighted-median minutes to the nearest), ``<key>_nearest`` (name).
    The ``measure`` property says which measure judged the shares (thresholds: coverage.csv)."""
    comm = result.data.communities
    cols = ["community_id", "name", "type", "district", "area_m2", "households", "population", "residents"]
    out = comm[[c for c in cols if c in comm] + ["geometry"]].copy()
    for key, grp in result.coverage.groupby("category", sort=False):
        g = grp.set_index("community_row").reindex(np.arange(len(comm)))
        out[f"{key}_share"] = np.where(
            g["applies"].fillna(False).astype(bool), g["covered_share"].round(4), np.nan
        )
        out[f"{key}_min"] = (g["nearest_time_s"] / 60.0).round(2).replace(np.inf, np.nan)
        out[f"{key}_nearest"] = g["nearest_facility_name"].fillna("").to_numpy()
    if len(result.gaps):
        n = result.gaps[result.gaps["kind"] == "coverage"].groupby("community_id").size()
        out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    else:
        out["n_gaps"] = 0
    out["weight_kind"] = result.data.weight_kind
    out["measure"] = result.data.measure
    return out


def gaps_layer(result: PlanResult) -> gpd.GeoDataFrame:
    """Gap rows with their community's polygon (EPSG:4326). Unreachable (infinite) times are null, with
    ``reachable`` false: JSON has no infinity."""
    geom = result.data.communities.set_index("community_id")["geometry"]
    g = result.gaps.copy()
    times = pd.to_numeric(g["nearest_time_min"], errors="coerce")
    g["reachable"] = ~np.isinf(times.to_numpy(dtype=float))
    for col in ("nearest_time_min", "nearest_walk_m"):
        g[col] = pd.to_numeric(g[col], errors="coerce").replace([np.inf, -np.inf], np.nan)
    empty = [c for c in ("threshold_min", "threshold_m") if c in g and len(g) and g[c].isna().all()]
    g = g.drop(columns=empty)
    return gpd.GeoDataFrame(g, geometry=geom.reindex(g["community_id"]).to_numpy(), crs=WGS84)


def write_outputs(result: PlanResult, out_dir: Path) -> dict[str, Path]:
    """Write ``coverage.geojson``, ``coverage.csv`` and ``coverage.xlsx`` (long form), ``gaps.csv``,
    ``gaps.xlsx`` (with roll-ups per 社区/街道/区 where the communities name them), ``gaps.geojson``,
    ``summary.json`` (and ``facilities.geojson``) into ``out_dir``. GeoJSON is EPSG:4326 (RFC 7946);
    CSV is UTF-8 with BOM, rounded, spreadsheet-safe (see :mod:`circles.outputs.tables`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in PLAN_FILE_NAMES}
    members = {"attribution": OSM_ATTRIBUTION}
    write_geojson(coverage_layer(result).to_crs(WGS84), paths["coverage.geojson"], members)
    long = coverage_long(result)
    level_m = level_walk_m(result)
    coverage_columns = columns_for(long, COVERAGE_COLUMNS, level_m)
    write_csv(long, coverage_columns, paths["coverage.csv"])
    gaps = gaps_long(result)
    gap_columns = columns_for(gaps, GAP_COLUMNS)
    write_csv(gaps, gap_columns, paths["gaps.csv"])
    readme = readme_lines(workbook_meta(result))
    write_xlsx(
        [Sheet("缺失清单 gaps", gaps, gap_columns), *rollup_sheets(result)], readme, paths["gaps.xlsx"]
    )
    write_xlsx([Sheet("覆盖 coverage", long, coverage_columns)], readme, paths["coverage.xlsx"])
    write_geojson(gaps_layer(result).to_crs(WGS84), paths["gaps.geojson"], members)
    write_geojson(result.data.facilities.to_crs(WGS84), paths["facilities.geojson"], members)
    atomic_write_text(
        paths["summary.json"], json.dumps(result.summary, ensure_ascii=False, indent=2, default=json_default)
    )
    return paths


def coverage_long(result: PlanResult) -> pd.DataFrame:
    """The long coverage table (one row per community and category) with each community's id, name,
    district, 社区 and 街道."""
    from ..planning.queries import labelled_coverage

    return labelled_coverage(result, result.coverage)


def gaps_long(result: PlanResult) -> pd.DataFrame:
    """The gap list with each community's 社区 / 街道 where known."""
    from ..planning.queries import with_admin_columns

    return with_admin_columns(result, result.gaps)


def rollup_sheets(result: PlanResult) -> list[Sheet]:
    """One sheet per level (社区, 街道, 区) the communities name, every planned category rolled up."""
    from ..planning.queries import planned_categories, present_levels, rollup_at

    titles = {"community": "社区 community", "street": "街道 street", "district": "区 district"}
    columns = (Column("category", "category", "设施类别", "category"), *ROLLUP_COLUMNS)
    keys = planned_categories(result)
    return [Sheet(titles[lv], rollup_at(result, lv, keys), columns) for lv in present_levels(result)]


def workbook_meta(result: PlanResult) -> dict[str, Any]:
    """What the README sheet of the workbooks says (from the summary)."""
    s = result.summary
    sample = s.get("sample_facilities") or 0
    return {
        "version": s.get("circles_version", ""),
        "title": "15-minute community life circle gaps and coverage 15分钟社区生活圈配套缺失清单与覆盖",
        "region": f"{s.get('region_name', '')} ({s.get('region', '')})",
        "generated_at": s.get("generated_at", ""),
        "weighting": s.get("weighting", ""),
        "measure": s.get("measure_label", ""),
        "sources": [str(s.get("data_source", ""))],
        "sample_note": (
            f"{sample} facilities are SAMPLE data (source: sample, names marked （示例）), not observed"
            if sample
            else ""
        ),
        "notes": list(s.get("notes", [])),
    }
