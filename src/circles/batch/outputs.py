"""What a batch writes: GeoParquet partitions per job and tile, one summary table, a manifest.

Layout of the output folder (Hive-style partitions, readable as one dataset with
``geopandas.read_parquet(out / "coverage")``, pyarrow or dask)::

    coverage/job=<name>/tile=<k>/part-0.parquet   one row per community and category (GeoParquet,
                                                  community polygons in EPSG:4326)
    gaps/job=<name>/tile=<k>/part-0.parquet       coverage-gap rows (jobs with measure = "gaps")
    summary.parquet, summary.csv                  one row per job and category (failed jobs: one row)
    manifest.json                                 inputs, versions, settings, status and errors per job
    _state/<name>/                                job.json, tiles/<k>.json (a finished partition's
                                                  marker with its statistics), staging/ (tile inputs)

A partition is finished when its marker exists with the job's current fingerprint; the marker is
written after the partition files, so an interrupted run leaves nothing that looks finished.

Nearest times are reported up to the job's horizon (``horizon_s``, the largest threshold unless the job
asks for more); beyond it they are ``inf``, "not within the horizon" — the same for a tiled job and for
a whole region (see :mod:`circles.batch.tiling`). Each coverage row says how it was judged (``measure``:
``time``, or ``distance`` for a job with ``travel_measure = "distance"``) with its threshold in that unit
(``threshold_min`` minutes or ``threshold_m`` metres). The facility serving a community is the one that
serves the largest weight of its residents within the horizon (ties: the smallest facility id).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._common import atomic_write, atomic_write_text, json_default
from ..catalog import LEVELS_MIN, Catalog
from ..pipeline import PlanResult
from ..planning.gaps import coverage_gaps

__all__ = [
    "COVERAGE_COLUMNS",
    "SUMMARY_COLUMNS",
    "BatchLayout",
    "coverage_partition",
    "gap_partition",
    "merge_stats",
    "partition_stats",
    "read_json",
    "summary_rows",
    "weighted_median",
    "write_json",
    "write_partition",
    "write_summary",
]

log = logging.getLogger(__name__)

#: Columns of a coverage partition (before ``geometry``), one row per community and category.
COVERAGE_COLUMNS = [
    "community_id",
    "community_name",
    "district",
    "community_type",
    "category",
    "level_min",
    "threshold_min",
    "threshold_m",
    "measure",
    "profile",
    "applies",
    "total_weight",
    "covered_weight",
    "covered_share",
    "target_share",
    *[f"share_{lv}" for lv in LEVELS_MIN],
    "nearest_time_s",
    "nearest_walk_m",
    "nearest_facility_id",
    "nearest_facility_name",
    "nearest_facility_source",
    "horizon_s",
]

#: Columns of the summary table: one row per job and category.
SUMMARY_COLUMNS = [
    "job",
    "status",
    "region",
    "category",
    "name_zh",
    "name_en",
    "level_min",
    "communities",
    "communities_short",
    "total_weight",
    "covered_share",
    *[f"share_{lv}min" for lv in LEVELS_MIN],
    "coverage_target",
    "meets_target",
    "facilities",
    "weight_kind",
    "tiles",
    "horizon_min",
    "error",
]


@dataclass(frozen=True)
class BatchLayout:
    """Where each output of a batch goes under ``root`` (see the module docstring)."""

    root: Path

    def partition_dir(self, dataset: str, job: str, tile: int) -> Path:
        return self.root / dataset / f"job={job}" / f"tile={tile}"

    def coverage_part(self, job: str, tile: int) -> Path:
        return self.partition_dir("coverage", job, tile) / "part-0.parquet"

    def gaps_part(self, job: str, tile: int) -> Path:
        return self.partition_dir("gaps", job, tile) / "part-0.parquet"

    def state_dir(self, job: str) -> Path:
        return self.root / "_state" / job

    def job_info(self, job: str) -> Path:
        return self.state_dir(job) / "job.json"

    def tile_marker(self, job: str, tile: int) -> Path:
        return self.state_dir(job) / "tiles" / f"{tile}.json"

    def staging(self, job: str, tile: int) -> Path:
        return self.state_dir(job) / "staging" / f"tile={tile}"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def summary(self) -> Path:
        return self.root / "summary.parquet"

    def clear_job(self, job: str) -> None:
        """Remove every output and state of ``job`` (before it is computed anew)."""
        for path in (
            self.root / "coverage" / f"job={job}",
            self.root / "gaps" / f"job={job}",
            self.state_dir(job),
        ):
            if path.exists():
                shutil.rmtree(path)

    def clear_staging(self, job: str) -> None:
        """Remove the staged tile inputs of a finished job."""
        path = self.state_dir(job) / "staging"
        if path.exists():
            shutil.rmtree(path)

    def finished_tile(self, job: str, tile: int, fingerprint: str) -> dict[str, Any] | None:
        """The marker of a finished partition of the job with this fingerprint, or None."""
        marker = read_json(self.tile_marker(job, tile))
        return marker if marker is not None and marker.get("fingerprint") == fingerprint else None


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is absent or unreadable (then it is redone)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, obj: Mapping[str, Any]) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=json_default) + "\n")


# ---------------------------------------------------------------------------- partitions


def _nearest_within(result: PlanResult, horizon_s: float) -> pd.DataFrame:
    """Per community row and category, the facility (row) serving the largest resident weight within
    ``horizon_s`` seconds; ties go to the smallest facility id."""
    points = result.engine.points
    fac_id = result.data.facilities["facility_id"].astype(str).to_numpy()
    frames = []
    for key, t in result.times.items():
        ok = (t.facility >= 0) & (t.time_s <= horizon_s)
        if not ok.any():
            continue
        rows = t.facility[ok]
        df = pd.DataFrame(
            {"community_row": points.community[ok], "fid": fac_id[rows], "row": rows, "w": points.weight[ok]}
        )
        agg = (
            df.groupby(["community_row", "fid"], sort=True)
            .agg(w=("w", "sum"), row=("row", "first"))
            .reset_index()
        )
        agg = agg.sort_values(["community_row", "w", "fid"], ascending=[True, False, True], kind="stable")
        top = agg.drop_duplicates("community_row")[["community_row", "row"]]
        frames.append(top.assign(category=key))
    if not frames:
        return pd.DataFrame(
            {
                "community_row": np.array([], np.int64),
                "row": np.array([], np.int64),
                "category": np.array([], object),
            }
        )
    return pd.concat(frames, ignore_index=True)


def weighted_median(
    group: np.ndarray, values: np.ndarray, weights: np.ndarray, n: int, *, rtol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Lower weighted median of ``values`` per group ``0..n-1``: the first value (ascending; equal values
    in input order) at which the group's cumulative weight reaches half its total. Returns the medians
    (NaN for a group without values) and the input index of each median's element (-1).

    Unlike a cumulative sum over all groups, every sum here runs over the group's own elements (its
    total in input order, its running sum in value order), and "reaches half" allows ``rtol`` of
    rounding, so a weight split exactly in half picks the lower value whatever other groups are in the
    table: a tile's medians equal the whole region's."""
    medians = np.full(n, np.nan)
    index = np.full(n, -1, dtype=np.int64)
    if len(values) == 0:
        return medians, index
    order = np.lexsort((values, group))
    g, w = group[order], weights[order]
    running = pd.Series(w).groupby(g).cumsum().to_numpy()
    total = np.bincount(group, weights=weights, minlength=n)
    reach = np.flatnonzero(running >= total[g] / 2.0 * (1.0 - rtol))
    groups, first = np.unique(g[reach], return_index=True)
    index[groups] = order[reach[first]]
    medians[groups] = values[index[groups]]
    return medians, index


def _nearest_in_horizon(result: PlanResult, horizon_s: float) -> pd.DataFrame:
    """Per community row and category, the weighted-median time (s) and distance (m) to the nearest
    facility (:func:`weighted_median`), ``inf`` beyond ``horizon_s``."""
    points = result.engine.points
    n = len(result.data.communities)
    frames = []
    for key, t in result.times.items():
        time_s, at = weighted_median(points.community, t.time_s, points.weight, n)
        walk_m = np.where(at >= 0, t.walk_m[np.clip(at, 0, None)], np.nan) if len(at) else np.zeros(0)
        beyond = time_s > horizon_s
        frames.append(
            pd.DataFrame(
                {
                    "community_row": np.arange(n),
                    "category": key,
                    "nearest_time_s": np.where(beyond, np.inf, time_s),
                    "nearest_walk_m": np.where(beyond, np.inf, walk_m),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _censored_coverage(result: PlanResult, horizon_s: float) -> pd.DataFrame:
    """The plan's coverage table with the nearest times and distances of :func:`_nearest_in_horizon`
    and the facility serving most residents within ``horizon_s`` (see the module docstring)."""
    cov = result.coverage.drop(columns=["nearest_facility_row", "nearest_time_s", "nearest_walk_m"])
    cov = cov.merge(
        _nearest_in_horizon(result, horizon_s),
        on=["community_row", "category"],
        how="left",
        validate="one_to_one",
    )
    best = _nearest_within(result, horizon_s)
    cov = cov.merge(best, on=["community_row", "category"], how="left", validate="one_to_one")
    row = cov.pop("row").fillna(-1).to_numpy(dtype=np.int64)
    cov["nearest_facility_row"] = row
    fac = result.data.facilities
    for col, src in (
        ("nearest_facility_id", "facility_id"),
        ("nearest_facility_name", "name"),
        ("nearest_facility_source", "source"),
    ):
        values = fac[src].fillna("").astype(str).to_numpy() if len(fac) else np.array([], dtype=str)
        cov[col] = np.where(row >= 0, values[np.clip(row, 0, None)] if len(values) else "", "")
    cov["horizon_s"] = float(horizon_s)
    return cov


def coverage_partition(result: PlanResult, horizon_s: float) -> gpd.GeoDataFrame:
    """The batch's coverage rows of a (tile's) plan: :data:`COVERAGE_COLUMNS` and the community
    polygon (EPSG:4326), one row per community and category, in the plan's order."""
    cov = _censored_coverage(result, horizon_s)
    return _with_communities(cov, result)[[*COVERAGE_COLUMNS, "geometry"]]


def _with_communities(cov: pd.DataFrame, result: PlanResult) -> gpd.GeoDataFrame:
    comm = result.data.communities
    rows = cov["community_row"].to_numpy()
    out = cov.assign(
        community_id=comm["community_id"].astype(str).to_numpy()[rows],
        community_name=comm["name"].fillna("").astype(str).to_numpy()[rows],
        district=comm["district"].fillna("").astype(str).to_numpy()[rows] if "district" in comm else "",
        community_type=comm["type"].astype(str).to_numpy()[rows],
    )
    return gpd.GeoDataFrame(out, geometry=comm.geometry.to_numpy()[rows], crs=comm.crs)


def gap_partition(result: PlanResult, horizon_s: float) -> pd.DataFrame:
    """The coverage-gap rows of a (tile's) plan, from the horizon-limited coverage (unranked: a rank is
    over a whole job; capacity gaps, which pool the communities a facility serves across tiles, are
    not part of a batch)."""
    cov = _censored_coverage(result, horizon_s)
    gaps = coverage_gaps(cov, result.data.communities, result.data.catalog, result.data.weight_kind)
    return gaps.reset_index(drop=True)


def partition_stats(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per category, the sums the summary needs over the communities it applies to: ``communities``,
    ``communities_short`` (covered share below target), ``total_weight``, ``covered_weight`` (share x
    weight) and ``share_<lv>_weight``."""
    out: dict[str, dict[str, float]] = {}
    applies = frame[frame["applies"].astype(bool)]
    for key in pd.unique(frame["category"]):
        a = applies[applies["category"] == key]
        w = a["total_weight"].to_numpy(dtype=float)
        entry = {
            "communities": float(len(a)),
            "communities_short": float((a["covered_share"] < a["target_share"] - 1e-9).sum()),
            "total_weight": float(np.nansum(w)),
            "covered_weight": float(np.nansum(a["covered_share"].to_numpy(dtype=float) * w)),
        }
        for lv in LEVELS_MIN:
            entry[f"share_{lv}_weight"] = float(np.nansum(a[f"share_{lv}"].to_numpy(dtype=float) * w))
        out[str(key)] = entry
    return out


def write_partition(
    layout: BatchLayout,
    job: str,
    tile: int,
    result: PlanResult,
    *,
    horizon_s: float,
    fingerprint: str,
    measure: str = "coverage",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a (tile's) plan as the job's partition ``tile``: coverage GeoParquet, gap rows when
    ``measure == 'gaps'``, then the marker (fingerprint, statistics, ``extra``), which is returned."""
    frame = coverage_partition(result, horizon_s)
    files = [atomic_write(layout.coverage_part(job, tile), frame.to_parquet)]
    if measure == "gaps":
        gaps = gap_partition(result, horizon_s)
        files.append(atomic_write(layout.gaps_part(job, tile), lambda p: gaps.to_parquet(p, index=False)))
    marker = {
        "job": job,
        "tile": tile,
        "fingerprint": fingerprint,
        "rows": len(frame),
        "communities": len(result.data.communities),
        "files": [str(f.relative_to(layout.root)) for f in files],
        "stats": partition_stats(frame),
        **(extra or {}),
    }
    write_json(layout.tile_marker(job, tile), marker)
    return marker


# ---------------------------------------------------------------------------- summary


def merge_stats(markers: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Add up the per-category statistics of a job's partitions."""
    total: dict[str, dict[str, float]] = {}
    for marker in markers:
        for key, entry in marker["stats"].items():
            acc = total.setdefault(key, {})
            for name, value in entry.items():
                acc[name] = acc.get(name, 0.0) + float(value)
    return total


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def summary_rows(
    job: str, info: Mapping[str, Any], stats: Mapping[str, Mapping[str, float]], catalog: Catalog
) -> list[dict[str, Any]]:
    """Summary rows of one finished job (:data:`SUMMARY_COLUMNS`): weighted shares over the communities
    each category applies to, as :func:`circles.planning.summary.region_summary` computes them (unrounded)."""
    rows = []
    for key, s in stats.items():
        cat = catalog.get(key)
        covered = _ratio(s["covered_weight"], s["total_weight"])
        rows.append(
            {
                "job": job,
                "status": info.get("status", "done"),
                "region": info.get("region"),
                "category": key,
                "name_zh": cat.name_zh,
                "name_en": cat.name_en,
                "level_min": cat.level_min,
                "communities": int(s["communities"]),
                "communities_short": int(s["communities_short"]),
                "total_weight": s["total_weight"],
                "covered_share": covered,
                **{f"share_{lv}min": _ratio(s[f"share_{lv}_weight"], s["total_weight"]) for lv in LEVELS_MIN},
                "coverage_target": cat.coverage_target,
                "meets_target": None
                if not cat.coverage_target or covered is None
                else bool(covered >= cat.coverage_target),
                "facilities": int(info.get("facilities", {}).get(key, 0)),
                "weight_kind": info.get("weight_kind"),
                "tiles": info.get("tiles"),
                "horizon_min": None if info.get("horizon_s") is None else float(info["horizon_s"]) / 60.0,
                "error": None,
            }
        )
    return rows


def write_summary(layout: BatchLayout, rows: list[dict[str, Any]]) -> list[Path]:
    """The summary table of all jobs as Parquet and CSV (UTF-8 with BOM, for Excel)."""
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for col in ("communities", "communities_short", "tiles", "facilities", "level_min"):
        table[col] = table[col].astype("Int64")
    for col in ("meets_target",):
        table[col] = table[col].astype("boolean")
    csv_path = layout.summary.with_suffix(".csv")
    return [
        atomic_write(layout.summary, lambda p: table.to_parquet(p, index=False)),
        atomic_write(csv_path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig")),
    ]
