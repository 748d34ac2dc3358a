"""Gap list (配套缺失清单): one row per community and category that falls short, ranked by severity.

Coverage gaps: a community whose covered share at the category's threshold is below its target share.
Capacity gaps: a facility with a floor-area rule (e.g. 30 m² per 100 households) smaller than the
households of the communities it is nearest to require; one row per such community.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..catalog import Catalog
from .residents import PERSONS_PER_HOUSEHOLD, persons_per_household

__all__ = [
    "GAP_COLUMNS",
    "MAX_TIME_FACTOR",
    "PERSONS_PER_HOUSEHOLD",
    "capacity_gaps",
    "coverage_gaps",
    "rank_gaps",
    "update_gaps",
]

log = logging.getLogger(__name__)

#: Severity factor for a community whose residents reach no facility at all.
MAX_TIME_FACTOR = 4.0

GAP_COLUMNS = [
    "severity_rank",
    "kind",
    "community_id",
    "community_name",
    "district",
    "community_type",
    "category",
    "category_zh",
    "level_min",
    "threshold_min",
    "threshold_m",
    "measure",
    "profile",
    "covered_share",
    "target_share",
    "uncovered_residents",
    "uncovered_elderly",
    "uncovered_area_m2",
    "uncovered_residents_estimate",
    "nearest_facility_id",
    "nearest_facility_name",
    "nearest_facility_source",
    "nearest_time_min",
    "nearest_walk_m",
    "required_m2",
    "available_m2",
    "shortfall_m2",
    "severity",
    "weight_kind",
]


def coverage_gaps(
    coverage: pd.DataFrame, communities: pd.DataFrame, catalog: Catalog, weight_kind: str
) -> pd.DataFrame:
    """Coverage gap rows (unranked) from the long coverage table.

    ``communities`` is indexed like ``coverage.community_row`` and has ``community_id``, ``name``,
    ``type``, ``area_m2`` and optionally ``district``, ``residents``. ``weight_kind`` is what point
    weights measure: ``'area'`` (m² of residential area) or people (``population``/``households``/``raster``).
    """
    cov = coverage[coverage["applies"] & (coverage["covered_share"] < coverage["target_share"] - 1e-9)].copy()
    if cov.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    comm = communities.iloc[cov["community_row"].to_numpy()]
    uncovered_share = 1.0 - cov["covered_share"].to_numpy()
    area = comm["area_m2"].to_numpy(dtype=float)
    residents = comm["residents"].to_numpy(dtype=float) if "residents" in comm else np.full(len(cov), np.nan)
    t = cov["nearest_time_s"].to_numpy()
    factor = _time_factor(cov)
    people = weight_kind != "area"
    uncovered_res = uncovered_share * residents if people else np.full(len(cov), np.nan)
    uncovered_area = uncovered_share * area
    basis = uncovered_res if people else uncovered_area
    zh = {c.key: c.name_zh for c in catalog.values()}
    out = pd.DataFrame(
        {
            "kind": "coverage",
            "community_id": comm["community_id"].to_numpy(),
            "community_name": comm["name"].to_numpy(),
            "district": comm["district"].to_numpy() if "district" in comm else "",
            "community_type": comm["type"].to_numpy(),
            "category": cov["category"].to_numpy(),
            "category_zh": [zh.get(k, k) for k in cov["category"]],
            "level_min": cov["level_min"].to_numpy(),
            "threshold_min": cov["threshold_min"].to_numpy(),
            "threshold_m": _column(cov, "threshold_m"),
            "measure": cov["measure"].to_numpy() if "measure" in cov else "time",
            "profile": cov["profile"].to_numpy(),
            "covered_share": cov["covered_share"].to_numpy(),
            "target_share": cov["target_share"].to_numpy(),
            "uncovered_residents": uncovered_res,
            "uncovered_elderly": _elderly(uncovered_res, comm, cov["category"], catalog),
            "uncovered_area_m2": uncovered_area,
            "uncovered_residents_estimate": uncovered_share * _column(comm, "residents_estimate"),
            "nearest_facility_id": cov["nearest_facility_id"].to_numpy(),
            "nearest_facility_name": cov["nearest_facility_name"].to_numpy(),
            "nearest_facility_source": cov["nearest_facility_source"].to_numpy(),
            "nearest_time_min": t / 60.0,
            "nearest_walk_m": cov["nearest_walk_m"].to_numpy(),
            "severity": np.nan_to_num(basis, nan=0.0) * factor,
            "weight_kind": weight_kind,
        }
    )
    return out


def _time_factor(cov: pd.DataFrame) -> np.ndarray:
    """How far the nearest facility is relative to the threshold, in the row's measure (time: nearest
    time / threshold minutes; distance: nearest walk / threshold metres), capped at MAX_TIME_FACTOR; the
    cap where nothing can be reached."""
    by_time = cov["nearest_time_s"].to_numpy(dtype=float) / (
        cov["threshold_min"].to_numpy(dtype=float) * 60.0
    )
    if "measure" in cov:
        by_distance = cov["nearest_walk_m"].to_numpy(dtype=float) / _column(cov, "threshold_m")
        ratio = np.where(cov["measure"].to_numpy() == "distance", by_distance, by_time)
    else:
        ratio = by_time
    return np.where(np.isfinite(ratio), np.minimum(ratio, MAX_TIME_FACTOR), MAX_TIME_FACTOR)


def _column(comm: pd.DataFrame, name: str) -> np.ndarray:
    return comm[name].to_numpy(dtype=float) if name in comm else np.full(len(comm), np.nan)


def _elderly(
    uncovered_res: np.ndarray, comm: pd.DataFrame, categories: pd.Series, catalog: Catalog
) -> np.ndarray:
    """Uncovered residents aged 65+ (persons): uncovered residents x the district's census share aged 65+,
    for categories that serve the elderly (``serves_elderly`` in the catalog); NaN elsewhere or without
    people or census figures."""
    if "share_65plus" not in comm:
        return np.full(len(comm), np.nan)
    serves = np.array([catalog.get(k).serves_elderly for k in categories], dtype=bool)
    share = pd.to_numeric(comm["share_65plus"], errors="coerce").to_numpy(dtype=float)
    return np.where(serves, uncovered_res * share, np.nan)


def capacity_gaps(
    coverage: pd.DataFrame, communities: pd.DataFrame, facilities: pd.DataFrame, catalog: Catalog
) -> pd.DataFrame:
    """Capacity gap rows: for categories with ``capacity_m2_per_100_households``, each facility serves the
    communities it is nearest to (by most residents); when its floor area is below
    ``rule * households / 100`` every community it serves gets a row. Needs household (or population)
    counts; communities without them are skipped (logged)."""
    rows = []
    households = (
        communities["households"].to_numpy(dtype=float)
        if "households" in communities
        else np.full(len(communities), np.nan)
    )
    if "population" in communities:
        pop_hh = communities["population"].to_numpy(dtype=float) / persons_per_household(communities)
        households = np.where(np.isfinite(households), households, pop_hh)
    pph = persons_per_household(communities)
    zh = {c.key: c.name_zh for c in catalog.values()}
    for cat in catalog.values():
        rule = cat.capacity_m2_per_100_households
        if not rule:
            continue
        cov = coverage[
            (coverage["category"] == cat.key) & coverage["applies"] & (coverage["nearest_facility_row"] >= 0)
        ]
        if cov.empty:
            continue
        hh = households[cov["community_row"].to_numpy()]
        if not np.isfinite(hh).any():
            log.info("capacity of %s not checked: no household or population counts", cat.key)
            continue
        served = cov.assign(households=hh).groupby("nearest_facility_row")
        for frow, grp in served:
            need = rule * np.nansum(grp["households"]) / 100.0
            have = (
                float(facilities["floor_area_m2"].iloc[int(frow)])
                if "floor_area_m2" in facilities
                else np.nan
            )
            if not np.isfinite(have) or have >= need - 1e-9:
                continue
            share_need = grp["households"].to_numpy() / max(np.nansum(grp["households"]), 1e-9)
            for (_, r), s in zip(grp.iterrows(), share_need):
                c = communities.iloc[int(r["community_row"])]
                rows.append(
                    {
                        "kind": "capacity",
                        "community_id": c["community_id"],
                        "community_name": c["name"],
                        "district": c.get("district", ""),
                        "community_type": c["type"],
                        "category": cat.key,
                        "category_zh": zh[cat.key],
                        "level_min": cat.level_min,
                        "threshold_min": r["threshold_min"],
                        "threshold_m": r.get("threshold_m", np.nan),
                        "measure": r.get("measure", "time"),
                        "profile": r["profile"],
                        "covered_share": r["covered_share"],
                        "target_share": r["target_share"],
                        "uncovered_residents": (1 - have / need)
                        * r["households"]
                        * pph[int(r["community_row"])],
                        "uncovered_area_m2": np.nan,
                        "nearest_facility_id": r["nearest_facility_id"],
                        "nearest_facility_name": r["nearest_facility_name"],
                        "nearest_facility_source": r["nearest_facility_source"],
                        "nearest_time_min": r["nearest_time_s"] / 60.0,
                        "nearest_walk_m": r["nearest_walk_m"],
                        "required_m2": need * s,
                        "available_m2": have * s,
                        "shortfall_m2": (need - have) * s,
                        "severity": (1 - have / need) * r["households"] * pph[int(r["community_row"])],
                        "weight_kind": "households",
                    }
                )
    return pd.DataFrame(rows, columns=[c for c in GAP_COLUMNS if c != "severity_rank"])


#: gap columns that are floats in every gap list (capacity rows build them from Python values)
_FLOAT_COLUMNS = (
    "required_m2",
    "available_m2",
    "shortfall_m2",
    "uncovered_residents",
    "uncovered_area_m2",
    "threshold_m",
)


def _aligned(frame: pd.DataFrame) -> pd.DataFrame:
    """An unranked gap frame with the gap columns (but ``severity_rank``) in order, floats as floats."""
    columns = [c for c in GAP_COLUMNS if c != "severity_rank"]
    out = frame.reindex(columns=columns)
    cast = {c: float for c in _FLOAT_COLUMNS if out[c].dtype != np.float64}  # casting floats is a no-op
    return out.astype(cast) if cast else out


def _ranked(unranked: pd.DataFrame) -> pd.DataFrame:
    """``unranked`` sorted by severity (then nearest time, both descending; ties keep their order) and
    numbered: ``severity_rank`` 1 is the most severe."""
    gaps = unranked.sort_values(
        ["severity", "nearest_time_min"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)
    gaps["severity_rank"] = np.arange(1, len(gaps) + 1)
    return gaps[GAP_COLUMNS]


def rank_gaps(*frames: pd.DataFrame) -> pd.DataFrame:
    """Concatenate gap frames and rank by severity (1 = most severe)."""
    present = [f for f in frames if not f.empty]
    if not present:
        return pd.DataFrame(columns=GAP_COLUMNS)
    aligned = [_aligned(f) for f in present]
    return _ranked(pd.concat(aligned, ignore_index=True) if len(aligned) > 1 else aligned[0])


def update_gaps(
    previous: pd.DataFrame,
    coverage: pd.DataFrame,
    communities: pd.DataFrame,
    facilities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
    categories: list[str],
) -> pd.DataFrame:
    """The ranked gap list after the coverage rows of ``categories`` changed and no others: their gap
    rows built afresh, every other category's rows taken from ``previous`` (the ranked list of the
    coverage before), ranked together. The same table, row for row, as
    ``rank_gaps(coverage_gaps(coverage, ...), capacity_gaps(coverage, ...))``: ties in severity keep
    the order the full build gives its rows (see :func:`_build_order`). Falls back to that full build
    (logged) when community ids or (category, community) coverage rows are not unique, or ``previous``
    names a community or category ``coverage`` lacks."""

    def rebuilt(why: str) -> pd.DataFrame:
        log.info("gap list rebuilt whole: %s", why)
        return rank_gaps(
            coverage_gaps(coverage, communities, catalog, weight_kind),
            capacity_gaps(coverage, communities, facilities, catalog),
        )

    where = _coverage_rows(coverage, communities, catalog)
    if where is None:
        return rebuilt("community ids or (category, community) coverage rows are not unique")
    part = coverage[coverage["category"].isin(categories).to_numpy()]
    fresh = [coverage_gaps(part, communities, catalog, weight_kind)]
    if any(c.capacity_m2_per_100_households and c.key in categories for c in catalog.values()):
        fresh.append(capacity_gaps(part, communities, facilities, catalog))
    kept = np.flatnonzero(~previous["category"].isin(categories).to_numpy())
    frames = ([previous] if len(kept) else []) + [_aligned(f) for f in fresh if not f.empty]
    if not frames:
        return pd.DataFrame(columns=GAP_COLUMNS)
    # previous has severity_rank and the fresh rows not: it is numbered anew below
    both = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    rows = np.concatenate([kept, np.arange(len(previous) if len(kept) else 0, len(both))])
    order = _build_order(both, rows, coverage, where)
    if order is None:
        return rebuilt("the previous gap list names communities or categories the coverage lacks")
    rows = rows[order]
    rows = rows[_severity_order(both["severity"].to_numpy()[rows], both["nearest_time_min"].to_numpy()[rows])]
    gaps = both.take(rows).reset_index(drop=True)
    gaps["severity_rank"] = np.arange(1, len(gaps) + 1)
    return gaps if list(gaps.columns) == GAP_COLUMNS else gaps[GAP_COLUMNS]


@dataclass(frozen=True)
class _CoverageRows:
    """Coverage row numbers by (category, community): ``position[code * len(ids) + community row]``
    (-1: none), ``code`` the category's place in ``keys`` (the catalog's order)."""

    ids: pd.Index
    keys: pd.Index
    position: np.ndarray

    def of(self, category: pd.Series, community_id: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
        """(coverage row, category code) of each (category, community id); None if one has none."""
        code = self.keys.get_indexer(category)
        comm_row = self.ids.get_indexer(community_id)
        if (code < 0).any() or (comm_row < 0).any():
            return None
        at = self.position[code * len(self.ids) + comm_row]
        return None if (at < 0).any() else (at, code)


def _coverage_rows(
    coverage: pd.DataFrame, communities: pd.DataFrame, catalog: Catalog
) -> _CoverageRows | None:
    """Where each (category, community id) is in ``coverage``; None when that is not one row."""
    ids = pd.Index(communities["community_id"])
    keys = pd.Index(list(catalog.keys()))
    code = keys.get_indexer(coverage["category"])
    comm_row = coverage["community_row"].to_numpy(dtype=np.int64)
    if not ids.is_unique or (code < 0).any():
        return None
    flat = code * len(ids) + comm_row
    position = np.full(len(keys) * len(ids), -1, dtype=np.int64)
    position[flat] = np.arange(len(coverage))
    if (np.bincount(flat, minlength=len(position)) > 1).any():
        return None
    return _CoverageRows(ids, keys, position)


def _build_order(
    gaps: pd.DataFrame, rows: np.ndarray, coverage: pd.DataFrame, where: _CoverageRows
) -> np.ndarray | None:
    """Positions in ``rows`` (of ``gaps``) in the order :func:`rank_gaps` (of :func:`coverage_gaps` and
    :func:`capacity_gaps` of ``coverage``) sees them before sorting: coverage rows in ``coverage``
    order, then capacity rows by category (catalog order), nearest facility row and ``coverage`` order;
    None when a row has no coverage row."""
    found = where.of(gaps["category"].take(rows), gaps["community_id"].take(rows))
    if found is None:
        return None
    at, code = found
    capacity = gaps["kind"].to_numpy()[rows] == "capacity"
    facility_row = coverage["nearest_facility_row"].to_numpy(dtype=np.int64)[at]
    return np.lexsort((at, np.where(capacity, facility_row, 0), np.where(capacity, code, at), capacity))


def _severity_order(severity: np.ndarray, nearest_time_min: np.ndarray) -> np.ndarray:
    """The stable order :func:`_ranked` sorts rows in: severity, then nearest time, both descending,
    NaN last (as ``DataFrame.sort_values(..., ascending=False, kind="stable")``)."""
    keys = []
    for values in (nearest_time_min, severity):  # np.lexsort: the last key is the primary one
        v = np.asarray(values, dtype=float)
        nan = np.isnan(v)
        keys += [np.where(nan, 0.0, -v), nan]
    return np.lexsort(keys)
