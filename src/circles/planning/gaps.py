"""Gap list (配套缺失清单): one row per community and category that falls short, ranked by severity.

Coverage gaps: a community whose covered share at the category's threshold is below its target share.
Capacity gaps: a facility with a floor-area rule (e.g. 30 m² per 100 households) smaller than the
households of the communities it is nearest to require; one row per such community.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Catalog
from . import _frames, _gap_columns
from .residents import PERSONS_PER_HOUSEHOLD, persons_per_household

__all__ = [
    "GAP_COLUMNS",
    "MAX_TIME_FACTOR",
    "PERSONS_PER_HOUSEHOLD",
    "capacity_gaps",
    "coverage_gaps",
    "rank_gaps",
    "update_gaps",
    "update_gaps_and_keys",
    "GapKeys",
    "gap_keys",
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
    frame, _ = _coverage_gap_rows(coverage, None, communities, catalog, weight_kind)
    return frame


def _coverage_gap_rows(
    coverage: pd.DataFrame,
    among: np.ndarray | None,
    communities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
    *,
    aligned: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`coverage_gaps` of the coverage rows where ``among`` (all: None), built from the columns it
    needs (the rows taken once, by position), and the coverage row of each gap row. ``aligned``: with
    every gap column in order (the capacity ones NaN, as :func:`_aligned` makes them; ``severity_rank``
    0, to be numbered)."""
    rows = _gap_columns.short_rows(coverage, among)
    if not len(rows):
        return pd.DataFrame(columns=GAP_COLUMNS), rows
    return _gap_frame(
        _gap_columns.Taken(coverage, rows), communities, catalog, weight_kind, aligned=aligned
    ), rows


def _gap_frame(
    cov: _gap_columns.Taken | _gap_columns.Given,
    communities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
    *,
    aligned: bool,
) -> pd.DataFrame:
    """The coverage gap rows of the coverage rows ``cov`` (short of their target), as
    :func:`_coverage_gap_rows` describes them."""
    rows = cov.rows
    comm = _gap_columns.Taken(communities, cov.values("community_row"))
    uncovered_share = 1.0 - cov.floats("covered_share")
    people = weight_kind != "area"
    uncovered_res = uncovered_share * comm.floats("residents") if people else np.full(len(rows), np.nan)
    uncovered_area = uncovered_share * comm.floats("area_m2", required=True)
    basis = uncovered_res if people else uncovered_area
    zh = {c.key: c.name_zh for c in catalog.values()}
    category = cov.values("category")
    columns = {
        "kind": "coverage",
        "community_id": comm.values("community_id"),
        "community_name": comm.values("name"),
        "district": comm.column("district") if "district" in communities else "",
        "community_type": comm.values("type"),
        "category": cov.column("category"),
        "category_zh": [zh.get(k, k) for k in category],
        "level_min": cov.values("level_min"),
        "threshold_min": cov.values("threshold_min"),
        "threshold_m": cov.floats("threshold_m"),
        "measure": cov.column("measure") if "measure" in cov else "time",
        "profile": cov.column("profile"),
        "covered_share": cov.values("covered_share"),
        "target_share": cov.values("target_share"),
        "uncovered_residents": uncovered_res,
        "uncovered_elderly": _elderly(uncovered_res, comm, category, catalog),
        "uncovered_area_m2": uncovered_area,
        "uncovered_residents_estimate": uncovered_share * comm.floats("residents_estimate"),
        "nearest_facility_id": cov.column("nearest_facility_id"),
        "nearest_facility_name": cov.column("nearest_facility_name"),
        "nearest_facility_source": cov.column("nearest_facility_source"),
        "nearest_time_min": cov.values("nearest_time_s") / 60.0,
        "nearest_walk_m": cov.values("nearest_walk_m"),
        "severity": np.nan_to_num(basis, nan=0.0) * _time_factor(cov),
        "weight_kind": weight_kind,
    }
    if not aligned:
        return _frames.frame(columns)
    nan = np.full(len(rows), np.nan)
    columns = {"severity_rank": np.zeros(len(rows), dtype=np.int64)} | {
        c: columns.get(c, nan) for c in _UNRANKED_COLUMNS
    }
    if all(isinstance(columns[c], np.ndarray) and columns[c].dtype == np.float64 for c in _FLOAT_COLUMNS):
        return _frames.frame(columns)  # what _float_columns would leave as it is
    return _float_columns(_frames.frame(columns))


def _given_gap_rows(
    blocks: list[tuple[int, Mapping[str, Any]]],
    where: _CoverageRows,
    communities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """:func:`_coverage_gap_rows` (aligned) of the coverage rows of some categories, given as their
    (category code, :func:`~circles.planning.coverage.coverage_columns`) (the rows the coverage table
    holds for them), and the coverage rows of all their rows; None when the coverage table does not hold
    each of them once."""
    at = np.concatenate(
        [where.at(np.full(len(c["community_row"]), code), c["community_row"]) for code, c in blocks]
    )
    if (at < 0).any() or len(np.unique(at)) != len(at):
        return None
    given = _gap_columns.Given([c for _, c in blocks], np.argsort(at, kind="stable"))
    applies, covered = given.values("applies"), given.floats("covered_share")
    short = applies.astype(bool) & (covered < given.floats("target_share") - 1e-9)
    cov = _gap_columns.Given(given.blocks, given.rows[short])
    if not len(cov):
        return pd.DataFrame(columns=GAP_COLUMNS), cov.rows, at
    return _gap_frame(cov, communities, catalog, weight_kind, aligned=True), at[cov.rows], at


def _time_factor(cov: _gap_columns.Taken | _gap_columns.Given) -> np.ndarray:
    """How far the nearest facility is relative to the threshold, in the row's measure (time: nearest
    time / threshold minutes; distance: nearest walk / threshold metres), capped at MAX_TIME_FACTOR; the
    cap where nothing can be reached."""
    by_time = cov.floats("nearest_time_s") / (cov.floats("threshold_min") * 60.0)
    if "measure" in cov:
        by_distance = cov.floats("nearest_walk_m") / cov.floats("threshold_m")
        ratio = np.where(cov.values("measure") == "distance", by_distance, by_time)
    else:
        ratio = by_time
    return np.where(np.isfinite(ratio), np.minimum(ratio, MAX_TIME_FACTOR), MAX_TIME_FACTOR)


def _elderly(
    uncovered_res: np.ndarray, comm: _gap_columns.Taken, categories: np.ndarray, catalog: Catalog
) -> np.ndarray:
    """Uncovered residents aged 65+ (persons): uncovered residents x the district's census share aged 65+,
    for categories that serve the elderly (``serves_elderly`` in the catalog); NaN elsewhere or without
    people or census figures."""
    if "share_65plus" not in comm:
        return np.full(len(comm), np.nan)
    serves_of = {k: catalog.get(k).serves_elderly for k in dict.fromkeys(categories.tolist())}
    serves = np.array([serves_of[k] for k in categories.tolist()], dtype=bool)
    share = pd.to_numeric(comm.frame["share_65plus"], errors="coerce").to_numpy(dtype=float)[comm.rows]
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


#: the columns of an unranked gap frame, in order
_UNRANKED_COLUMNS = [c for c in GAP_COLUMNS if c != "severity_rank"]


def _aligned(frame: pd.DataFrame) -> pd.DataFrame:
    """An unranked gap frame with the gap columns (but ``severity_rank``) in order, floats as floats."""
    return _float_columns(frame.reindex(columns=_UNRANKED_COLUMNS))


def _float_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns of ``_FLOAT_COLUMNS`` as floats (casting floats is a no-op)."""
    cast = {c: float for c in _FLOAT_COLUMNS if frame[c].dtype != np.float64}
    return frame.astype(cast) if cast else frame


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
    gaps, _ = update_gaps_and_keys(
        previous, coverage, communities, facilities, catalog, weight_kind, categories
    )
    return gaps


@dataclass(frozen=True)
class GapKeys:
    """What :func:`update_gaps_and_keys` looks up of each row of a ranked gap list, by position: the
    place of its category in the catalog's keys (``code``; -1: none), its community's row in the
    communities table (``community_row``; -1: none) and whether it is a ``capacity`` row."""

    code: np.ndarray
    community_row: np.ndarray
    capacity: np.ndarray


def gap_keys(gaps: pd.DataFrame, communities: pd.DataFrame, catalog: Catalog) -> GapKeys | None:
    """The :class:`GapKeys` of the gap list ``gaps``; None when community ids are not unique."""
    ids = pd.Index(communities["community_id"])
    return _keys_of(gaps, ids, pd.Index(list(catalog.keys()))) if ids.is_unique else None


def _keys_of(gaps: pd.DataFrame, ids: pd.Index, keys: pd.Index) -> GapKeys:
    """The :class:`GapKeys` of ``gaps`` by the (unique) community ids ``ids`` and category keys ``keys``."""
    return GapKeys(
        keys.get_indexer(gaps["category"]),
        ids.get_indexer(gaps["community_id"]),
        gaps["kind"].to_numpy() == "capacity",
    )


def update_gaps_and_keys(
    previous: pd.DataFrame,
    coverage: pd.DataFrame,
    communities: pd.DataFrame,
    facilities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
    categories: list[str],
    *,
    previous_keys: GapKeys | None = None,
    coverage_code: np.ndarray | None = None,
    fresh_columns: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[pd.DataFrame, GapKeys | None]:
    """:func:`update_gaps`, and the :class:`GapKeys` of the list it returns (None when community ids
    are not unique), given those of ``previous`` (``previous_keys``; None: looked up), the category
    code of each coverage row (``coverage_code``: the place of its category in the catalog's keys, -1
    none; None: looked up) and the rows of the changed categories in ``coverage`` as
    :func:`~circles.planning.coverage.coverage_columns` gave them (``fresh_columns``: category -> its
    columns; None: read from ``coverage``). They only save reading and looking up again, edit after edit."""
    if previous_keys is not None and len(previous_keys.code) != len(previous):
        previous_keys = None

    def rebuilt(why: str) -> tuple[pd.DataFrame, GapKeys | None]:
        log.info("gap list rebuilt whole: %s", why)
        gaps = rank_gaps(
            coverage_gaps(coverage, communities, catalog, weight_kind),
            capacity_gaps(coverage, communities, facilities, catalog),
        )
        return gaps, gap_keys(gaps, communities, catalog)

    where = _coverage_rows(coverage, communities, catalog, coverage_code)
    if where is None:
        return rebuilt("community ids or (category, community) coverage rows are not unique")
    if previous_keys is None:
        previous_keys = _keys_of(previous, where.ids, where.keys)
    changed_code = np.array([where.code_of.get(c, -1) for c in categories], dtype=np.int64)
    if (changed_code >= 0).all():  # then a category is changed iff its code is
        changed = np.isin(where.code, changed_code)
        kept = np.flatnonzero(~np.isin(previous_keys.code, changed_code))
    else:
        changed = coverage["category"].isin(categories).to_numpy()
        kept = np.flatnonzero(~previous["category"].isin(categories).to_numpy())
    # the frames in the order they are concatenated (previous: its kept rows), with the keys of their rows
    parts = [(previous, _taken_keys(previous_keys, kept))] if len(kept) else []
    parts += _fresh_parts(
        coverage, changed, where, communities, catalog, weight_kind, categories, fresh_columns
    )
    if any(c.capacity_m2_per_100_households and c.key in categories for c in catalog.values()):
        capacity = capacity_gaps(coverage[changed], communities, facilities, catalog)
        if len(capacity):
            unranked = _aligned(capacity)
            unranked.insert(0, "severity_rank", np.zeros(len(capacity), dtype=np.int64))
            parts.append((unranked, _keys_of(capacity, where.ids, where.keys)))
    if not parts:
        empty = pd.DataFrame(columns=GAP_COLUMNS)
        return empty, _keys_of(empty, where.ids, where.keys)
    ranked = _ranked_parts(parts, kept, len(previous), coverage, where)
    if ranked is None:
        return rebuilt("the previous gap list names communities or categories the coverage lacks")
    return ranked


def _fresh_parts(
    coverage: pd.DataFrame,
    changed: np.ndarray,
    where: _CoverageRows,
    communities: pd.DataFrame,
    catalog: Catalog,
    weight_kind: str,
    categories: list[str],
    fresh_columns: Mapping[str, Mapping[str, Any]] | None,
) -> list[tuple[pd.DataFrame, GapKeys]]:
    """The coverage gap rows of the coverage rows ``changed`` (ranked layout, with their keys), from the
    columns of ``fresh_columns`` when they are those rows, else read from ``coverage``."""
    found = None
    given = fresh_columns or {}
    if categories and all(c in given and c in where.code_of for c in categories):
        blocks = [(where.code_of[k], given[k]) for k in dict.fromkeys(categories)]
        found = _given_gap_rows(blocks, where, communities, catalog, weight_kind)
        found = found if found is not None and len(found[2]) == changed.sum() else None
    fresh, at = (
        found[:2]
        if found is not None
        else _coverage_gap_rows(coverage, changed, communities, catalog, weight_kind, aligned=True)
    )
    if not len(at):
        return []
    crow = coverage["community_row"].to_numpy(dtype=np.int64)[at]
    return [(fresh, GapKeys(where.code[at], crow, np.zeros(len(at), dtype=bool)))]


def _ranked_parts(
    parts: list[tuple[pd.DataFrame, GapKeys]],
    kept: np.ndarray,
    n_previous: int,
    coverage: pd.DataFrame,
    where: _CoverageRows,
) -> tuple[pd.DataFrame, GapKeys] | None:
    """The gap frames of ``parts`` (the first one the previous list, of which ``kept`` rows count, when
    ``kept`` is not empty) ranked together, in the order a full build gives, and their keys; None when
    a row has no coverage row."""
    # the fresh rows' severity_rank is 0: every row is numbered anew below
    both = pd.concat([p[0] for p in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
    rows = np.concatenate([kept, np.arange(n_previous if len(kept) else 0, len(both))])
    keys = GapKeys(
        np.concatenate([k.code for _, k in parts]),
        np.concatenate([k.community_row for _, k in parts]),
        np.concatenate([k.capacity for _, k in parts]),
    )
    at = where.at(keys.code, keys.community_row)
    if (at < 0).any():
        return None
    order = _build_order(at, keys.code, keys.capacity, coverage)
    severity, nearest = (both[c].to_numpy()[rows[order]] for c in ("severity", "nearest_time_min"))
    order = order[_severity_order(severity, nearest)]
    gaps = both.take(rows[order]).reset_index(drop=True)
    gaps["severity_rank"] = np.arange(1, len(gaps) + 1)
    gaps = gaps if list(gaps.columns) == GAP_COLUMNS else gaps[GAP_COLUMNS]
    return gaps, _taken_keys(keys, order)


def _taken_keys(keys: GapKeys, rows: np.ndarray) -> GapKeys:
    return GapKeys(keys.code[rows], keys.community_row[rows], keys.capacity[rows])


@dataclass(frozen=True)
class _CoverageRows:
    """Coverage row numbers by (category, community): ``position[code * len(ids) + community row]``
    (-1: none), ``code`` the category's place in ``keys`` (the catalog's order) of each coverage row."""

    ids: pd.Index
    keys: pd.Index
    position: np.ndarray
    code: np.ndarray
    code_of: dict[str, int]  #: the code of each category key

    def at(self, code: np.ndarray, community_row: np.ndarray) -> np.ndarray:
        """The coverage row of each (category code, community row); -1 where there is none."""
        known = (code >= 0) & (community_row >= 0)
        return np.where(known, self.position[np.where(known, code * len(self.ids) + community_row, 0)], -1)


def _coverage_rows(
    coverage: pd.DataFrame, communities: pd.DataFrame, catalog: Catalog, code: np.ndarray | None = None
) -> _CoverageRows | None:
    """Where each (category, community id) is in ``coverage``; None when that is not one row.
    ``code``: the category code of each coverage row, if known."""
    ids = pd.Index(communities["community_id"])
    keys = pd.Index(list(catalog.keys()))
    if code is None or len(code) != len(coverage):
        code = keys.get_indexer(coverage["category"])
    comm_row = coverage["community_row"].to_numpy(dtype=np.int64)
    if not ids.is_unique or (code < 0).any():
        return None
    flat = code * len(ids) + comm_row
    position = np.full(len(keys) * len(ids), -1, dtype=np.int64)
    position[flat] = np.arange(len(coverage))
    if (np.bincount(flat, minlength=len(position)) > 1).any():
        return None
    return _CoverageRows(ids, keys, position, code, {str(k): i for i, k in enumerate(keys)})


def _build_order(
    at: np.ndarray, code: np.ndarray, capacity: np.ndarray, coverage: pd.DataFrame
) -> np.ndarray:
    """The order :func:`rank_gaps` (of :func:`coverage_gaps` and :func:`capacity_gaps` of ``coverage``)
    sees gap rows in before sorting, given each row's coverage row ``at``, category code (catalog order)
    and whether it is a ``capacity`` row: coverage rows in ``coverage`` order, then capacity rows by
    category, nearest facility row and ``coverage`` order."""
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
