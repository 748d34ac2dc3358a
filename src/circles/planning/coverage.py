"""Coverage of residents by facilities over the street network.

Residents are represented by weighted points spread over each community (see
:mod:`circles.planning.residents`). For each facility category and travel profile there is **one**
reverse multi-source search from all of its facilities (the time *to* the nearest one), evaluated
exactly at every resident point. The contract between stages is a long table: one row per community,
category and level. Coordinates are in the network's metric CRS (metres); times in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from ..catalog import COMMUNITY_PROFILES, LEVELS_MIN, Catalog, Category
from ..routing.graph import DEFAULT_MAX_SNAP_M, ProfileGraph, Snap

__all__ = [
    "DEFAULT_TARGET_SHARE",
    "LEVELS_MIN",
    "CategoryTimes",
    "CoverageEngine",
    "FacilityPoints",
    "ResidentPoints",
    "coverage_rows",
    "coverage_table",
    "share_within",
]

log = logging.getLogger(__name__)

#: A community meets a category when at least this share of its residents is inside the threshold,
#: unless the category sets its own ``coverage_target`` (project default).
DEFAULT_TARGET_SHARE = 0.95


@dataclass
class ResidentPoints:
    """Weighted points standing for a community's residents, network CRS metres.

    ``community`` is the row index of each point's community in the communities table, ``weight`` its
    share of the residents (or of the residential area: ``weight_kind == 'area'``), ``ctype`` the
    community type (urban/rural/industrial)."""

    xy: np.ndarray
    community: np.ndarray
    weight: np.ndarray
    ctype: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)


@dataclass
class FacilityPoints:
    """Facilities as points in the network CRS (metres): ids, categories, names and data source
    (``osm``, ``sample`` or ``user``)."""

    xy: np.ndarray
    facility_id: np.ndarray
    category: np.ndarray
    name: np.ndarray
    source: np.ndarray


@dataclass
class CategoryTimes:
    """Per resident point, for one category: network time (s) and distance (m) to the nearest
    facility (``inf`` when none can be reached) and that facility's row in the facilities table (-1)."""

    category: str
    time_s: np.ndarray
    walk_m: np.ndarray
    facility: np.ndarray


class CoverageEngine:
    """Times from resident points to the nearest facility of each category, one search per category
    and profile. Points are snapped once per profile and reused."""

    def __init__(
        self,
        graphs: dict[str, ProfileGraph],
        points: ResidentPoints,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ):
        self.graphs = graphs
        self.points = points
        self.max_snap_m = max_snap_m
        self.profile_of_point = (
            np.array([COMMUNITY_PROFILES.get(t, "walk") for t in points.ctype])
            if len(points)
            else np.array([], dtype=str)
        )
        self._point_snaps: dict[str, tuple[np.ndarray, Snap]] = {}
        for prof in np.unique(self.profile_of_point):
            idx = np.flatnonzero(self.profile_of_point == prof)
            snap = graphs[prof].snap(points.xy[idx], max_snap_m=max_snap_m, strict=False)
            self._point_snaps[str(prof)] = (idx, snap)
            n_far = int((snap.seg < 0).sum())
            if n_far:
                log.warning(
                    "%d resident points are farther than %.0f m from any %s street: counted as not covered",
                    n_far,
                    max_snap_m,
                    prof,
                )

    @property
    def point_snaps(self) -> Mapping[str, tuple[np.ndarray, Snap]]:
        """The resident points' snaps to the street, per travel profile (read-only): profile ->
        (indices into :attr:`points`, their :class:`~circles.routing.graph.Snap` on that profile's
        graph; ``seg == -1`` where a point is farther than ``max_snap_m`` from every street)."""
        return MappingProxyType(self._point_snaps)

    @property
    def unsnapped_points(self) -> np.ndarray:
        """Indices of resident points too far from any usable street."""
        return (
            np.concatenate([idx[s.seg < 0] for idx, s in self._point_snaps.values()])
            if self._point_snaps
            else np.array([], int)
        )

    def category_times(self, category: str, facilities: FacilityPoints) -> CategoryTimes:
        """Nearest-facility time and distance for every resident point (one search per profile)."""
        n = len(self.points)
        time_s = np.full(n, np.inf)
        walk_m = np.full(n, np.inf)
        fac = np.full(n, -1, dtype=np.int64)
        rows = np.flatnonzero(facilities.category == category)
        for prof, (idx, psnap) in self._point_snaps.items():
            if len(rows) == 0:
                continue
            g = self.graphs[prof]
            fsnap = g.snap(facilities.xy[rows], max_snap_m=self.max_snap_m, strict=False)
            far = fsnap.seg < 0
            if far.any():
                log.warning(
                    "%s: %d facilities farther than %.0f m from any %s street are ignored: %s",
                    category,
                    int(far.sum()),
                    self.max_snap_m,
                    prof,
                    ", ".join(map(str, facilities.facility_id[rows][far][:10])),
                )
            res = g.search(fsnap, reverse=True)
            t, origin = res.at(psnap)
            time_s[idx] = t
            walk_m[idx] = t * g.profile.speed_m_s  # exact where the profile's speed is uniform
            fac[idx] = np.where(origin >= 0, rows[np.clip(origin, 0, None)], -1)
        return CategoryTimes(category, time_s, walk_m, fac)


def _wsum(community: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(community, weights=values, minlength=n)


def _weighted_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Weighted median of ``values`` per group (``inf`` values sort last); NaN for empty groups.
    The lower median: the first value at which the group's cumulative weight reaches half its total."""
    out = np.full(n, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    # cumulative weight within each group, summed from the group's own first value: the median of a
    # community must not depend on which other communities share the table (a global running sum would
    # round differently at exact half splits)
    cw = pd.Series(w).groupby(g).cumsum().to_numpy()
    start = np.searchsorted(g, np.arange(n), side="left")
    end = np.searchsorted(g, np.arange(n), side="right")
    has = end > start
    total = np.where(has, cw[np.maximum(end - 1, 0)], 0.0)
    half = total / 2.0
    reach = np.flatnonzero(cw >= half[g])
    groups, first = np.unique(g[reach], return_index=True)
    out[groups] = v[reach[first]]
    # a group whose weights are all zero: its first value
    empty_w = has & np.isnan(out)
    out[empty_w] = v[start[empty_w]]
    return out


def share_within(
    times: CategoryTimes, points: ResidentPoints, community_types: np.ndarray, minutes: float
) -> np.ndarray:
    """Per community, the share of its resident weight within ``minutes`` of the nearest facility of
    ``times.category`` (each point's time is on its own community's travel profile: walking for urban
    and industrial communities, cycling for rural ones, as :meth:`CoverageEngine.category_times`
    computed it).

    ``community_types``: one entry per community (row of the communities table); the result has the
    same length and order. Shares are in 0..1 of the weight the points carry (residents, or m² of
    residential area when the plan is area-weighted); NaN for a community with no weight. The same
    numbers as the ``share_{level}`` columns of :func:`coverage_rows`, for any ``minutes``.
    """
    n = len(community_types)
    comm, w = points.community, points.weight
    total = _wsum(comm, w, n)
    covered = _wsum(comm, np.where(times.time_s <= minutes * 60.0, w, 0.0), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, covered / total, np.nan)


def coverage_rows(
    cat: Category,
    times: CategoryTimes,
    points: ResidentPoints,
    community_types: np.ndarray,
    facilities: FacilityPoints,
    *,
    levels: Iterable[int] = LEVELS_MIN,
    target_share: float = DEFAULT_TARGET_SHARE,
) -> pd.DataFrame:
    """Long-form coverage of one category: a row per community with the covered share at the
    category's own threshold (``covered_share``) and at each level (``share_5`` …), the weighted-median
    time and distance to the nearest facility and the facility serving most of its residents."""
    n = len(community_types)
    comm, w = points.community, points.weight
    total = _wsum(comm, w, n)
    kinds, inverse = np.unique(np.asarray(community_types, dtype=str), return_inverse=True)
    thr_min = np.array([cat.threshold_min(t) if t in cat.thresholds_min else np.nan for t in kinds])[inverse]
    thr_point_s = thr_min[comm] * 60.0
    covered = _wsum(comm, np.where(times.time_s <= thr_point_s, w, 0.0), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, covered / total, np.nan)
    out = pd.DataFrame(
        {
            "community_row": np.arange(n),
            "category": cat.key,
            "level_min": cat.level_min,
            "threshold_min": thr_min,
            "profile": np.array([COMMUNITY_PROFILES.get(t, "walk") for t in kinds], dtype=object)[inverse],
            "applies": np.array([cat.applies(t) for t in kinds], dtype=bool)[inverse],
            "total_weight": total,
            "covered_weight": covered,
            "covered_share": share,
            "target_share": cat.coverage_target or target_share,
        }
    )
    for lv in levels:
        out[f"share_{lv}"] = share_within(times, points, community_types, lv)
    out["nearest_time_s"] = _weighted_median(comm, times.time_s, w, n)
    out["nearest_walk_m"] = _weighted_median(comm, times.walk_m, w, n)
    # the facility serving the largest weight of the community's residents
    has = times.facility >= 0
    best = np.full(n, -1, dtype=np.int64)
    if has.any():
        df = pd.DataFrame({"c": comm[has], "f": times.facility[has], "w": w[has]})
        agg = (
            df.groupby(["c", "f"], sort=False)["w"]
            .sum()
            .reset_index()
            .sort_values(["c", "w"], ascending=[True, False])
        )
        top = agg.drop_duplicates("c")
        best[top["c"].to_numpy()] = top["f"].to_numpy()
    out["nearest_facility_row"] = best
    out["nearest_facility_id"] = np.where(
        best >= 0, facilities.facility_id[np.clip(best, 0, None)] if len(facilities.facility_id) else "", ""
    )
    for col, arr in (
        ("nearest_facility_name", facilities.name),
        ("nearest_facility_source", facilities.source),
    ):
        out[col] = np.where(best >= 0, arr[np.clip(best, 0, None)], "") if len(arr) else ""
    return out


def coverage_table(
    engine: CoverageEngine,
    catalog: Catalog,
    community_types: np.ndarray,
    facilities: FacilityPoints,
    *,
    categories: Iterable[str] | None = None,
    levels: Iterable[int] = LEVELS_MIN,
    target_share: float = DEFAULT_TARGET_SHARE,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, CategoryTimes]]:
    """Coverage rows of every category (long form) and the per-point times behind them."""
    keys = list(categories) if categories is not None else list(catalog.keys())
    frames, per_cat = [], {}
    for key in keys:
        cat = catalog.get(key)
        if progress:
            progress(key)
        times = engine.category_times(key, facilities)
        per_cat[key] = times
        frames.append(
            coverage_rows(
                cat,
                times,
                engine.points,
                community_types,
                facilities,
                levels=levels,
                target_share=target_share,
            )
        )
    return pd.concat(frames, ignore_index=True), per_cat
