"""Coverage of residents by facilities over the street network.

Residents are represented by weighted points spread over each community (see
:mod:`circles.planning.residents`). For each facility category and travel profile there is **one**
reverse multi-source search from all of its facilities (the time *to* the nearest one), evaluated
exactly at every resident point. The contract between stages is a long table: one row per community,
category and level. Coordinates are in the network's metric CRS (metres); times in seconds.

Two measures (:mod:`circles.measures`): ``time`` judges every point by its travel time, ``distance``
judges the points of walking communities by their network walking distance (searched on the walk
profile's 1 m/s twin, so the engine is the same) against the level's metres; rural points keep bicycle
minutes. Each row says which (``measure``) and has its threshold in that unit (``threshold_min`` or
``threshold_m``, the other NaN).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import COMMUNITY_PROFILES, LEVELS_MIN, Catalog, Category
from ..measures import DEFAULT_MEASURE, check_measure, judged_by, search_profile
from ..routing.graph import DEFAULT_MAX_SNAP_M, ProfileGraph, Snap
from . import _frames

__all__ = [
    "DEFAULT_TARGET_SHARE",
    "LEVELS_MIN",
    "CategoryTimes",
    "CoverageEngine",
    "FacilityPoints",
    "ResidentPoints",
    "coverage_columns",
    "coverage_frame",
    "coverage_rows",
    "coverage_table",
    "share_at_level",
    "share_within",
]

log = logging.getLogger(__name__)

#: A community meets a category when at least this share of its residents is inside the threshold,
#: unless the category sets its own ``coverage_target``. Project choice: neither plan sets a share for
#: the service circles (only parks: > 90 %, plan item 6); 95 % allows for the few resident points a
#: 50 m grid puts on the far side of a block, without excusing a missing facility.
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
    facility (``inf`` when none can be reached) and that facility's row in the facilities table (-1).
    ``by_distance`` marks the points judged by distance (walking communities under the ``distance``
    measure; None: none); their ``time_s`` is the walk at the profile's speed."""

    category: str
    time_s: np.ndarray
    walk_m: np.ndarray
    facility: np.ndarray
    by_distance: np.ndarray | None = None

    @property
    def cost(self) -> np.ndarray:
        """What each point is judged by: metres where :attr:`by_distance`, else seconds."""
        if self.by_distance is None:
            return self.time_s
        return np.where(self.by_distance, self.walk_m, self.time_s)


class CoverageEngine:
    """Times from resident points to the nearest facility of each category, one search per category
    and profile. Points are snapped once per profile and reused.

    ``measure`` (``time`` or ``distance``): under ``distance`` the points of walking communities are
    searched on the graph ``graphs['walk_distance']`` (the walk profile's 1 m/s twin,
    :func:`circles.measures.distance_profile`), whose seconds are metres."""

    def __init__(
        self,
        graphs: dict[str, ProfileGraph],
        points: ResidentPoints,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        measure: str = DEFAULT_MEASURE,
    ):
        self.graphs = graphs
        self.points = points
        self.max_snap_m = max_snap_m
        self.measure = check_measure(measure)
        ctypes = [str(t) for t in points.ctype]
        self.profile_of_point = (
            np.array([search_profile(COMMUNITY_PROFILES.get(t, "walk"), t, measure) for t in ctypes])
            if len(points)
            else np.array([], dtype=str)
        )
        #: points judged by network distance (walking communities under the distance measure)
        self.by_distance = np.array([judged_by(t, measure) == "distance" for t in ctypes], dtype=bool)
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
            if g.profile.measure == "distance":  # a 1 m/s twin: its seconds are metres
                walk_m[idx] = t
                time_s[idx] = t / g.profile.reference_speed_m_s
            else:
                time_s[idx] = t
                walk_m[idx] = t * g.profile.speed_m_s  # exact where the profile's speed is uniform
            fac[idx] = np.where(origin >= 0, rows[np.clip(origin, 0, None)], -1)
        by_distance = self.by_distance if self.by_distance.any() else None
        return CategoryTimes(category, time_s, walk_m, fac, by_distance)


def _wsum(community: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(community, weights=values, minlength=n)


def _weighted_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Weighted median of ``values`` per group (``inf`` values sort last); NaN for empty groups.
    The lower median: the first value at which the group's cumulative weight reaches half its total.
    The cumulative weight of a community is summed from its own first value: the median must not depend
    on which other communities share the table (a global running sum would round differently at exact
    half splits)."""
    if len(values) == 0:
        return np.full(n, np.nan)
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    if not np.isfinite(w).all():
        return _weighted_median_grouped(g, v, w, n)
    from . import coverage_kernels  # numba: imported where it is used

    return coverage_kernels.sorted_lower_median(
        g.astype(np.int64), v.astype(np.float64), w.astype(np.float64), n
    )


def _weighted_median_grouped(g: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """:func:`_weighted_median` of points sorted by group and value, by pandas' group-by (the reference
    the compiled loop follows; used for weights that are not all finite)."""
    out = np.full(n, np.nan)
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


def _serving_facility(community: np.ndarray, facility: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per community (``n`` rows), the facility row serving the largest weight of its points (``facility``:
    each point's nearest, -1 none); -1 where no point reaches one. On a tie, the facility whose first
    point comes first."""
    has = facility >= 0
    if not has.any():
        return np.full(n, -1, dtype=np.int64)
    c, f, w = community[has].astype(np.int64), facility[has].astype(np.int64), weights[has]
    if not np.isfinite(w).all():
        return _serving_facility_grouped(c, f, w, n)
    from . import coverage_kernels  # numba: imported where it is used

    order = np.lexsort((f, c))  # stable: a pair's points keep their order
    return coverage_kernels.sorted_serving_facility(c[order], f[order], w[order].astype(np.float64), order, n)


def _serving_facility_grouped(c: np.ndarray, f: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """:func:`_serving_facility` of the points that reach a facility, by pandas' group-by (the reference
    the compiled loop follows; used for weights that are not all finite)."""
    best = np.full(n, -1, dtype=np.int64)
    df = pd.DataFrame({"c": c, "f": f, "w": w})
    agg = (
        df.groupby(["c", "f"], sort=False)["w"]
        .sum()
        .reset_index()
        .sort_values(["c", "w"], ascending=[True, False])
    )
    top = agg.drop_duplicates("c")
    best[top["c"].to_numpy()] = top["f"].to_numpy()
    return best


def share_within(
    times: CategoryTimes,
    points: ResidentPoints,
    community_types: np.ndarray,
    minutes: float | None = None,
    *,
    walk_m: float | None = None,
) -> np.ndarray:
    """Per community, the share of its resident weight within ``minutes`` of the nearest facility of
    ``times.category`` (each point's time is on its own community's travel profile: walking for urban
    and industrial communities, cycling for rural ones, as :meth:`CoverageEngine.category_times`
    computed it).

    ``community_types``: one entry per community (row of the communities table); the result has the
    same length and order. Shares are in 0..1 of the weight the points carry (residents, or m² of
    residential area when the plan is area-weighted); NaN for a community with no weight. The same
    numbers as the ``share_{level}`` columns of :func:`coverage_rows` of a ``time`` plan, for any
    ``minutes``. With ``walk_m`` instead: within that network distance (metres, on each point's own
    profile: walking, or cycling for rural communities).
    """
    if (minutes is None) == (walk_m is None):
        raise ValueError("give minutes or walk_m")
    within = times.time_s <= minutes * 60.0 if minutes is not None else times.walk_m <= float(walk_m or 0.0)
    return _share(points, len(community_types), within)


def _share(points: ResidentPoints, n: int, within: np.ndarray) -> np.ndarray:
    """Per community (``n`` rows), the share of its points' weight where ``within`` is true."""
    comm, w = points.community, points.weight
    total = _wsum(comm, w, n)
    covered = _wsum(comm, np.where(within, w, 0.0), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, covered / total, np.nan)


def share_at_level(
    times: CategoryTimes,
    points: ResidentPoints,
    community_types: np.ndarray,
    level_min: int,
    level_walk_m: Mapping[int, float] | None = None,
) -> np.ndarray:
    """Per community, the share within the ``level_min`` circle (5, 10 or 15): its minutes, or, for the
    points judged by distance (``times.by_distance``), its walking metres ``level_walk_m[level_min]``."""
    thr = np.full(len(times.time_s), level_min * 60.0)
    if times.by_distance is not None:
        if not level_walk_m or level_min not in level_walk_m:
            raise ValueError(f"no walking distance for the {level_min}-minute level")
        thr = np.where(times.by_distance, float(level_walk_m[level_min]), thr)
    return _share(points, len(community_types), times.cost <= thr)


def coverage_rows(
    cat: Category,
    times: CategoryTimes,
    points: ResidentPoints,
    community_types: np.ndarray,
    facilities: FacilityPoints,
    *,
    levels: Iterable[int] = LEVELS_MIN,
    target_share: float = DEFAULT_TARGET_SHARE,
    measure: str = DEFAULT_MEASURE,
    level_walk_m: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Long-form coverage of one category: a row per community with the covered share at the
    category's own threshold (``covered_share``) and at each level (``share_5`` …: the level's minutes,
    or its metres ``level_walk_m`` for rows judged by distance), the weighted-median time and distance to
    the nearest facility and the facility serving most of its residents. ``measure`` is the plan's (the
    engine's that computed ``times``); each row's ``measure`` says how it was judged, with its threshold
    in ``threshold_min`` (minutes) or ``threshold_m`` (metres)."""
    columns = coverage_columns(
        cat,
        times,
        points,
        community_types,
        facilities,
        levels=levels,
        target_share=target_share,
        measure=measure,
        level_walk_m=level_walk_m,
    )
    return coverage_frame(columns)


def coverage_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """The frame :func:`coverage_rows` returns, of the columns :func:`coverage_columns` returned."""
    return _frames.frame(columns)


def coverage_columns(
    cat: Category,
    times: CategoryTimes,
    points: ResidentPoints,
    community_types: np.ndarray,
    facilities: FacilityPoints,
    *,
    levels: Iterable[int] = LEVELS_MIN,
    target_share: float = DEFAULT_TARGET_SHARE,
    measure: str = DEFAULT_MEASURE,
    level_walk_m: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """The columns of :func:`coverage_rows`, in order, before they become a frame: numpy arrays (strings
    as object or unicode arrays) and scalars for the columns equal on every row (``category``,
    ``level_min``, ``target_share``; and the facility columns when there are no facilities). Do not
    modify them."""
    n = len(community_types)
    comm, w = points.community, points.weight
    kinds, inverse = np.unique(np.asarray(community_types, dtype=str), return_inverse=True)
    unit_value = [cat.threshold(t, measure) if t in cat.thresholds_min else ("min", np.nan) for t in kinds]
    thr_cost = np.array([v if u == "m" else v * 60.0 for u, v in unit_value])[inverse]
    total = _wsum(comm, w, n)
    covered = _wsum(comm, np.where(times.cost <= thr_cost[comm], w, 0.0), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, covered / total, np.nan)
    columns: dict[str, Any] = {
        "community_row": np.arange(n),
        "category": cat.key,
        "level_min": cat.level_min,
        "threshold_min": np.array([v if u == "min" else np.nan for u, v in unit_value])[inverse],
        "threshold_m": np.array([v if u == "m" else np.nan for u, v in unit_value])[inverse],
        "measure": np.array(["distance" if u == "m" else "time" for u, _ in unit_value], dtype=object)[
            inverse
        ],
        "profile": np.array([COMMUNITY_PROFILES.get(t, "walk") for t in kinds], dtype=object)[inverse],
        "applies": np.array([cat.applies(t) for t in kinds], dtype=bool)[inverse],
        "total_weight": total,
        "covered_weight": covered,
        "covered_share": share,
        "target_share": cat.coverage_target or target_share,
    }
    for lv in levels:
        columns[f"share_{lv}"] = share_at_level(times, points, community_types, lv, level_walk_m)
    columns["nearest_time_s"] = _weighted_median(comm, times.time_s, w, n)
    columns["nearest_walk_m"] = _weighted_median(comm, times.walk_m, w, n)
    # the facility serving the largest weight of the community's residents
    best = _serving_facility(comm, times.facility, w, n)
    columns["nearest_facility_row"] = best
    at = np.clip(best, 0, None)
    ids = facilities.facility_id
    columns["nearest_facility_id"] = np.where(best >= 0, ids[at] if len(ids) else "", "")
    for col, arr in (
        ("nearest_facility_name", facilities.name),
        ("nearest_facility_source", facilities.source),
    ):
        columns[col] = np.where(best >= 0, arr[at], "") if len(arr) else ""
    return columns


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
    """Coverage rows of every category (long form) and the per-point times behind them, by the engine's
    measure (the catalog's ``[[level]]`` distances for the level shares under ``distance``)."""
    keys = list(categories) if categories is not None else list(catalog.keys())
    level_walk_m = catalog_level_walk_m(catalog)
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
                measure=engine.measure,
                level_walk_m=level_walk_m,
            )
        )
    return pd.concat(frames, ignore_index=True), per_cat


def catalog_level_walk_m(catalog: Catalog) -> dict[int, float]:
    """``{level minutes: walking metres}`` of the catalog's ``[[level]]`` tables (empty without)."""
    return {lv.minutes: float(lv.walk_m) for lv in catalog.level_table}
