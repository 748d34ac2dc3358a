"""The choice of up to ``k`` new sites for a category among candidate micro-renewal sites (金角银边).

Candidates come from :mod:`circles.planning.candidates` (the region's OpenStreetMap extract and the
user's own file). :func:`choose_sites` solves a **maximal covering location problem** (MCLP): with the
existing facilities of the category fixed, choose at most ``k`` candidates that together newly cover
the largest weight of resident points within the category's threshold (per community type: profile
and minutes, as in the coverage table). Residents already covered by an existing facility count as
covered and earn nothing. Which candidate reaches which resident point is exact network routing
(:func:`coverage_matrix`): one reverse search per candidate with the threshold as cutoff, evaluated at
the resident points (:meth:`ProfileGraph.search`).

It reads as its stages: check arguments -> candidate table (routing points, sizes) -> demand (resident
points not covered yet) -> coverage matrix -> solve (:mod:`circles.planning.mclp`) -> per-site
accounting and notes (:mod:`circles.planning.site_report`) -> :class:`SiteChoice`.

Weights are what the plan's resident points carry: people (``weight_kind`` population/households/
raster) or **m² of residential area** (``weight_kind == 'area'``, when no population data was given);
area is never reported as residents. Geometry work is in the network's metric CRS (metres); layers
returned are EPSG:4326.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from ..catalog import Category
from ..errors import InputError
from ..routing.graph import ProfileGraph, Snap
from .candidates import candidate_sites, normalise_candidates
from .coverage import DEFAULT_TARGET_SHARE
from .mclp import DEFAULT_TIME_LIMIT_S, MclpSolution, solve_mclp
from .site_brief import nearest_existing, region_streets, suggested_floor
from .site_report import (
    SITE_COLUMNS,
    CommunityBaseline,
    SiteChoice,
    SiteEffect,
    choice_notes,
    community_table,
    site_effects,
    site_points,
    site_table,
)
from .suitability import (
    SiteFacts,
    SiteRules,
    Verdicts,
    assess_sites,
    load_site_rules,
    rule_counts_text,
    site_dimensions,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = ["SITE_COLUMNS", "SiteChoice", "choose_sites", "coverage_matrix", "site_points"]

log = logging.getLogger(__name__)


# --- the coverage matrix on the network ----------------------------------------------------------


@dataclass
class _Hits:
    """Accumulated (point, site) pairs within the threshold and each point's best time (s)."""

    rows: list[np.ndarray]
    cols: list[np.ndarray]
    best_t: np.ndarray

    def add(self, points: np.ndarray, site: int, t: np.ndarray) -> None:
        self.rows.append(points)
        self.cols.append(np.full(len(points), site, dtype=np.int64))
        self.best_t[points] = np.minimum(self.best_t[points], t)

    def matrix(self, n_points: int, n_sites: int) -> sparse.csr_matrix:
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, np.int64)
        return sparse.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n_points, n_sites))


def _profile_snaps(result: PlanResult, n_sites: int) -> dict[str, tuple[np.ndarray, Snap]]:
    """The resident points' snaps per profile; with no resident point at all, one empty profile so the
    sites' distance to a street is still measured."""
    snaps = dict(result.engine.point_snaps)
    if not snaps and n_sites:
        graphs = result.data.graphs
        prof = "walk" if "walk" in graphs else next(iter(graphs))
        snaps[prof] = (np.zeros(0, np.int64), graphs[prof].snap(np.zeros((0, 2)), strict=False))
    return snaps


def _reach_on_profile(
    g: ProfileGraph,
    site_xy: np.ndarray,
    site_snap: Snap,
    point_idx: np.ndarray,
    point_snap: Snap,
    thr_s: np.ndarray,
    local: np.ndarray,
    hits: _Hits,
) -> None:
    """Add to ``hits`` the points (``point_idx``, snapped as ``point_snap``) that each snapped site
    reaches within its point's threshold ``thr_s`` (s) on graph ``g``: one reverse search per site
    with the largest threshold as cutoff, only for the points that are near enough as the crow flies
    at the graph's top speed."""
    cutoff = float(thr_s[point_idx].max())
    vmax = max(g.max_speed_m_s, g.offstreet_speed_m_s)
    tree = cKDTree(point_snap.point_xy)
    for j in np.flatnonzero(site_snap.seg >= 0):
        near = np.asarray(tree.query_ball_point(site_xy[j], cutoff * vmax + 1.0), dtype=np.int64)
        if len(near) == 0:
            continue
        nt = g.search(site_snap.subset(np.array([j])), cutoff_s=cutoff, reverse=True)
        t, _ = nt.at(point_snap.subset(near))
        hit = t <= thr_s[point_idx[near]]
        if hit.any():
            hits.add(local[point_idx[near[hit]]], int(j), t[hit])


def coverage_matrix(
    result: PlanResult,
    category: str,
    site_xy: np.ndarray,
    *,
    points: np.ndarray | None = None,
    max_snap_m: float | None = None,
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Which resident points each site reaches within the category's threshold.

    ``site_xy``: sites in the network CRS (metres, shape (m, 2)); ``points``: resident point indices
    to test (default all). Each site gets one reverse search per travel profile with the largest
    threshold of the point types as cutoff, evaluated exactly at the points (threshold by community
    type). Returns (matrix len(points) x m, boolean; the sites' distance to their street in m, inf when
    farther than ``max_snap_m`` from every street (such a site reaches nobody); time (s) from each
    point to its nearest reaching site among those tested, inf when none)."""
    cat = result.data.catalog.get(category)
    engine = result.engine
    pts = engine.points
    idx_all = np.arange(len(pts)) if points is None else np.asarray(points, dtype=np.int64)
    site_xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    m = len(site_xy)
    max_snap_m = engine.max_snap_m if max_snap_m is None else max_snap_m
    thr_s = np.array([cat.threshold_cost(t, engine.measure) for t in pts.ctype]) if len(pts) else np.zeros(0)
    local = np.full(len(pts), -1, dtype=np.int64)
    local[idx_all] = np.arange(len(idx_all))
    hits = _Hits([], [], np.full(len(idx_all), np.inf))
    snap_m = np.full(m, np.inf)
    for prof, (pidx, psnap) in _profile_snaps(result, m).items():
        if m == 0:
            break
        g = result.data.graphs[prof]
        ssnap = g.snap(site_xy, max_snap_m=max_snap_m, strict=False)
        snap_m = np.minimum(snap_m, np.where(ssnap.seg >= 0, ssnap.offstreet_m, np.inf))
        want = (local[pidx] >= 0) & (psnap.seg >= 0)
        if want.any():
            _reach_on_profile(g, site_xy, ssnap, pidx[want], psnap.subset(want), thr_s, local, hits)
    return hits.matrix(len(idx_all), m), snap_m, hits.best_t


# --- choose_sites: the stages --------------------------------------------------------------------


def _check_k(k: object) -> int:
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    return int(k)


@dataclass(frozen=True)
class _CandidateTable:
    """The candidates (EPSG:4326, :data:`~circles.planning.candidates.CANDIDATE_COLUMNS`, ``area_m2``
    filled in from the polygon where unknown) with their routing points in the network CRS
    (``site_xy``, metres) and in WGS84 (``lonlat``, degrees), their size (``width_m``/``length_m`` of
    the minimum rotated rectangle, ``clear_width_m``; NaN for points), the suitability verdicts
    (usable, bilingual reason, rules; :mod:`circles.planning.suitability`), the distance to the street
    (``snap_m``, m; inf until measured) and notes on those left out."""

    frame: gpd.GeoDataFrame
    site_xy: np.ndarray
    lonlat: np.ndarray
    dims: dict[str, np.ndarray]
    verdicts: Verdicts
    snap_m: np.ndarray
    notes: list[str]

    @property
    def usable(self) -> np.ndarray:
        return self.verdicts.usable

    def with_snaps(self, snap_m: np.ndarray, max_snap_m: float) -> _CandidateTable:
        """With the usable sites' distance to the street; those beyond ``max_snap_m`` m made unusable."""
        verdicts = self.verdicts.exclude(
            ~np.isfinite(snap_m),
            "no_street",
            f"距离道路超过 {max_snap_m:g} m",
            f"farther than {max_snap_m:g} m from any street",
        )
        return dataclasses.replace(self, verdicts=verdicts, snap_m=snap_m)


def _candidate_table(
    result: PlanResult, cands: gpd.GeoDataFrame, cat: Category, respect_min_area: bool, rules: SiteRules
) -> _CandidateTable:
    """Routing points (the point itself, or a point inside the polygon), sizes (m², m) and the
    suitability verdicts (the rules on the category's size and width needs only with
    ``respect_min_area``; the user's verdicts win)."""
    net = result.data.net
    metric = cands.to_crs(net.crs)
    geoms = metric.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    rep = np.where(types == 0, geoms, shapely.point_on_surface(geoms))
    site_xy = shapely.get_coordinates(rep).reshape(-1, 2) if len(rep) else np.zeros((0, 2))
    lonlat = (
        np.column_stack(net.to_wgs84().transform(site_xy[:, 0], site_xy[:, 1]))
        if len(rep)
        else np.zeros((0, 2))
    )
    own_area = np.where(np.isin(types, (3, 6)), shapely.area(geoms), np.nan)
    area = cands["area_m2"].to_numpy(dtype=float)
    area = np.where(np.isfinite(area), area, own_area)
    cands["area_m2"] = area
    metric["area_m2"] = area
    width, length, clear = site_dimensions(geoms)
    streets = region_streets(result) if rules.needs_streets else None
    verdicts = assess_sites(
        SiteFacts.from_frame(metric, clear), rules, cat, streets, category_rules=respect_min_area
    ).with_user(cands["user_usable"].to_numpy(dtype=float), list(cands["user_reason"]))
    notes = []
    left_out = int((~verdicts.usable).sum())
    if left_out:
        notes.append(
            f"{left_out} of {len(cands)} candidates are not usable by the suitability rules or the user's "
            f"verdicts ({rule_counts_text(verdicts.counts)}): see the candidates' reason"
        )
    dims = {"width_m": width, "length_m": length, "clear_width_m": clear}
    return _CandidateTable(cands, site_xy, lonlat, dims, verdicts, np.full(len(cands), np.inf), notes)


@dataclass(frozen=True)
class _Demand:
    """The resident points for one category: ``weight`` (people or m²), whether the category
    ``applies`` to the point's community, whether it is ``covered`` by an existing facility now, too
    far from any street (``unsnapped``), and ``idx``: the points to cover (applies, not covered, on
    the network, weight > 0) with their ``community`` rows."""

    weight: np.ndarray
    applies: np.ndarray
    covered: np.ndarray
    unsnapped: np.ndarray
    idx: np.ndarray
    community: np.ndarray

    @property
    def weight_demand(self) -> np.ndarray:
        """The weight of each point to cover (aligned with ``idx``)."""
        return self.weight[self.idx]

    def total(self, mask: np.ndarray) -> float:
        """Weight of the points the category applies to, within ``mask``."""
        return float(self.weight[self.applies & mask].sum())


def _demand(result: PlanResult, category: str, cat: Category) -> _Demand:
    """Who is covered by the existing facilities (the plan's own times when it kept them) and who is
    left to cover."""
    pts = result.engine.points
    times = (getattr(result, "times", None) or {}).get(category)
    if times is None or len(times.time_s) != len(pts):
        from ..pipeline import facility_points

        times = result.engine.category_times(category, facility_points(result.data))
    ctype = pts.ctype.astype(str)
    measure = result.engine.measure
    thr_s = np.array([cat.threshold_cost(t, measure) for t in ctype]) if len(pts) else np.zeros(0)
    applies = np.array([cat.applies(t) for t in ctype], dtype=bool) if len(pts) else np.zeros(0, bool)
    w = pts.weight.astype(float)
    covered = times.cost <= thr_s
    unsnapped = np.zeros(len(pts), bool)
    unsnapped[result.engine.unsnapped_points] = True
    idx = np.flatnonzero(applies & ~covered & ~unsnapped & (w > 0))
    return _Demand(w, applies, covered, unsnapped, idx, pts.community[idx])


def _candidate_coverage(
    result: PlanResult, category: str, table: _CandidateTable, demand: _Demand
) -> tuple[sparse.csr_matrix, _CandidateTable]:
    """The demand points x candidates coverage matrix (routing only the usable candidates) and the
    table with the candidates' distance to the street."""
    use_idx = np.flatnonzero(table.usable)
    A_use, snap_m_use, _ = coverage_matrix(result, category, table.site_xy[use_idx], points=demand.idx)
    snap_m = np.full(len(table.usable), np.inf)
    snap_m[use_idx] = snap_m_use
    A_use = sparse.csr_matrix(A_use)
    A = sparse.csr_matrix(
        (A_use.data, use_idx[A_use.indices], A_use.indptr), shape=(len(demand.idx), len(table.usable))
    )
    return A, table.with_snaps(snap_m, result.engine.max_snap_m)


def _solve(
    A: sparse.csr_matrix, weight: np.ndarray, k: int, method: str, time_limit_s: float
) -> MclpSolution:
    """:func:`solve_mclp`, or an empty solution when there is nothing to cover or nothing to use."""
    if not len(weight):
        return MclpSolution.trivial("trivial (no uncovered resident point)")
    if not A.shape[1]:
        return MclpSolution.trivial("trivial (no usable candidate)")
    return solve_mclp(A, weight, k, method=method, time_limit_s=time_limit_s)


def _community_baseline(
    result: PlanResult, category: str, cat: Category, demand: _Demand
) -> CommunityBaseline:
    """Per community: covered weight before any new site, the target share and the gaps."""
    comm = result.data.communities
    applies = np.array([cat.applies(t) for t in comm["type"].astype(str)], dtype=bool)
    return CommunityBaseline.build(
        comm,
        result.engine.points.community,
        demand.weight,
        demand.covered,
        applies,
        _target_share(result, category, cat),
        people=result.data.weight_kind != "area",
    )


def _target_share(result: PlanResult, category: str, cat: Category) -> float:
    """The plan's target share for the category (its coverage table), else the category's own."""
    cov = result.coverage
    if cov is not None and len(cov) and "target_share" in cov:
        rows = cov[cov["category"] == category]
        if len(rows):
            return float(rows["target_share"].iloc[0])
    return float(cat.coverage_target or DEFAULT_TARGET_SHARE)


def _threshold_text(cat: Category, comm: pd.DataFrame) -> str:
    """The category's thresholds over the community types present, e.g. '15 min walk'."""
    types = sorted(set(comm["type"].astype(str))) if len(comm) else []
    parts = sorted({f"{cat.threshold_min(t):g} min {cat.profile_for(t)}" for t in types if cat.applies(t)})
    return ", ".join(parts)


def _baseline(fac: gpd.GeoDataFrame, category: str) -> dict[str, int]:
    """Existing facilities of the category by data source, e.g. ``{'osm': 3, 'sample': 6}``."""
    f = fac[fac["category"] == category]
    return {str(k): int(v) for k, v in f["source"].fillna("").value_counts().sort_index().items()}


def _candidate_record(
    table: _CandidateTable, A: sparse.csr_matrix, weight: np.ndarray, chosen: list[int]
) -> gpd.GeoDataFrame:
    """Every candidate tested: the weight it reaches on its own, its rank when chosen (0 otherwise),
    whether it was usable and why not, its distance to the street (m) and routing point (degrees)."""
    n = len(table.frame)
    alone = (
        np.asarray((A.multiply(weight[:, None]) if A.shape[0] else A).sum(axis=0)).ravel()
        if A.shape[1]
        else np.zeros(0)
    )
    chosen_rank = np.zeros(n, dtype=np.int64)
    for r, j in enumerate(chosen, start=1):
        chosen_rank[j] = r
    out = table.frame.drop(columns=["tags", "user_usable", "user_reason"], errors="ignore")
    for name, values in table.dims.items():
        out.insert(
            out.columns.get_loc("area_m2") + 1 + list(table.dims).index(name), name, np.round(values, 1)
        )
    out["new_weight"] = alone if len(alone) else np.zeros(n)
    out["chosen_rank"] = chosen_rank
    out["usable"] = table.usable
    out["reason"] = table.verdicts.reason.astype(str)
    out["rules"] = table.verdicts.rules.astype(str)
    out["snap_m"] = np.round(table.snap_m, 1)
    out["lon"] = table.lonlat[:, 0] if len(table.lonlat) else np.zeros(0)
    out["lat"] = table.lonlat[:, 1] if len(table.lonlat) else np.zeros(0)
    return out


def _unreachable(A: sparse.csr_matrix, weight: np.ndarray) -> float:
    """Weight of the demand points that no candidate reaches."""
    if not len(weight):
        return 0.0
    reached = np.asarray(A.sum(axis=1)).ravel() > 0 if A.shape[1] else np.zeros(len(weight), bool)
    return float(weight[~reached].sum())


def _fixed_columns(
    result: PlanResult, category: str, cat: Category, baseline: Mapping[str, int]
) -> dict[str, str]:
    """The columns every chosen site shares: category, its thresholds, weight kind and baseline."""
    return {
        "category": category,
        "threshold_min": _threshold_text(cat, result.data.communities),
        "weight_kind": result.data.weight_kind,
        "baseline": ", ".join(f"{key}:{n}" for key, n in baseline.items()) or "none",
    }


def _log_choice(category: str, k: int, sol: MclpSolution, n_candidates: int, seconds: float) -> None:
    log.info(
        "sites %s k=%d: %s, %d candidates, %d groups, objective %.1f (bound %.1f), %.2f s",
        category,
        k,
        sol.method,
        n_candidates,
        sol.n_groups,
        sol.objective,
        sol.bound,
        seconds,
    )


def _timings(t0: float, t1: float, t2: float, t3: float, t4: float) -> dict[str, float]:
    """Seconds per stage from ``perf_counter`` marks: start, after the demand, after the coverage
    matrix, after the solve, end."""
    return {"baseline_s": t1 - t0, "coverage_matrix_s": t2 - t1, "solve_s": t3 - t2, "total_s": t4 - t0}


def _with_overrides(
    cands: gpd.GeoDataFrame, overrides: pd.DataFrame | None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The candidates with the user's verdicts of ``overrides`` (``site_id``, ``user_usable``,
    ``user_reason``; see :func:`~circles.io.candidates.read_site_overrides`) in place of those of the
    candidates file; a note names listed sites that are no candidate."""
    if overrides is None or not len(overrides):
        return cands, []
    by_id = overrides.set_index(overrides["site_id"].astype(str))
    ids = cands["site_id"].astype(str)
    hit = ids.isin(by_id.index).to_numpy()
    cands = cands.copy()
    cands.loc[hit, "user_usable"] = by_id.loc[ids[hit], "user_usable"].to_numpy(dtype=float)
    cands.loc[hit, "user_reason"] = by_id.loc[ids[hit], "user_reason"].fillna("").astype(str).to_numpy()
    unknown = sorted(set(by_id.index) - set(ids))
    notes = (
        [f"overrides name {len(unknown)} sites that are no candidate: {', '.join(unknown[:10])}"]
        if unknown
        else []
    )
    return cands, notes


def _site_brief(
    result: PlanResult,
    category: str,
    cat: Category,
    table: _CandidateTable,
    effects: list[SiteEffect],
    base: CommunityBaseline,
) -> dict[str, list[Any]]:
    """Per chosen site (rank order): its size (m), the households it adds, the suggested floor area
    and its basis, the nearest existing facility (walking minutes, metres, name) and its reason."""
    rows = np.array([e.candidate for e in effects], dtype=np.int64)
    added_res = np.array([base.scale(e.added_c)[0] for e in effects], dtype=float)
    hh, floor, basis = suggested_floor(cat, added_res, base.people)
    minutes, metres, names = nearest_existing(result, category, table.site_xy[rows])
    brief: dict[str, list[Any]] = {k: list(np.round(v[rows], 1)) for k, v in table.dims.items()}
    brief |= {
        "added_households": list(np.round(hh, 1)),
        "suggested_floor_m2": list(floor),
        "floor_basis": basis,
        "nearest_existing_min": list(minutes),
        "nearest_existing_m": list(metres),
        "nearest_existing_name": list(names),
        "reason": list(table.verdicts.reason[rows].astype(str)),
    }
    return brief


def choose_sites(
    result: PlanResult,
    category: str,
    k: int,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    respect_min_area: bool = True,
    rules: SiteRules | None = None,
    overrides: pd.DataFrame | None = None,
) -> SiteChoice:
    """Choose up to ``k`` candidate sites for ``category`` maximising the newly covered weight (MCLP).

    ``result``: a :class:`~circles.pipeline.PlanResult` (its existing facilities stay fixed);
    ``candidates``: a candidate table (:data:`~circles.planning.candidates.CANDIDATE_COLUMNS` +
    geometry, any CRS; default the region's OSM candidates,
    :func:`~circles.planning.candidates.candidate_sites`). Only resident points of communities the
    category applies to, not covered now and on the network count. Only usable candidates are routed:
    ``rules`` (default ``data/site_rules.toml``, :mod:`circles.planning.suitability`) leave out
    interchange greens, private gardens, parks, sites too large for a corner and, with
    ``respect_min_area``, sites smaller or narrower than the category needs; the user's verdicts (a
    ``usable`` column of the candidates file, or ``overrides``: ``site_id``, ``user_usable``,
    ``user_reason``) win. See :func:`~circles.planning.mclp.solve_mclp` for ``method`` and
    ``time_limit_s`` (seconds) and :class:`SiteChoice` for what is returned.
    """
    from .summary import WEIGHT_LABELS

    t0 = time.perf_counter()
    data = result.data
    cat = data.catalog.get(category)
    k = _check_k(k)
    cands = normalise_candidates(candidate_sites(result) if candidates is None else candidates)
    cands, override_notes = _with_overrides(cands, overrides)
    table = _candidate_table(result, cands, cat, respect_min_area, rules or load_site_rules())
    demand = _demand(result, category, cat)
    t1 = time.perf_counter()
    A, table = _candidate_coverage(result, category, table, demand)
    t2 = time.perf_counter()
    wd = demand.weight_demand
    sol = _solve(A, wd, k, method, time_limit_s)
    t3 = time.perf_counter()
    base = _community_baseline(result, category, cat, demand)
    effects = site_effects(A, sol.chosen, demand.community, wd, base)
    baseline = _baseline(data.facilities, category)
    fixed = _fixed_columns(result, category, cat, baseline)
    unreachable = _unreachable(A, wd)
    notes = override_notes + table.notes + choice_notes(category, baseline, data.weight_kind, wd, unreachable)
    brief = _site_brief(result, category, cat, table, effects, base)
    t4 = time.perf_counter()
    _log_choice(category, k, sol, len(table.frame), t4 - t0)
    return SiteChoice(
        category=category,
        category_zh=cat.name_zh,
        k=k,
        weight_kind=data.weight_kind,
        weight_label=WEIGHT_LABELS.get(data.weight_kind, data.weight_kind),
        solution=sol,
        sites=site_table(
            effects, base, table.frame, snap_m=table.snap_m, lonlat=table.lonlat, fixed=fixed, brief=brief
        ),
        communities=community_table(effects, base, table.frame),
        candidates=_candidate_record(table, A, wd, sol.chosen),
        total_weight=demand.total(np.ones(len(demand.weight), bool)),
        covered_before=demand.total(demand.covered),
        uncovered_before=demand.total(~demand.covered),
        unreachable_weight=unreachable + demand.total(~demand.covered & demand.unsnapped),
        gaps_before=int(base.in_gap.sum()),
        gaps_closed=sum(int(e.closes.sum()) for e in effects),
        baseline=baseline,
        demand_points=int(len(demand.idx)),
        notes=notes,
        timings_s=_timings(t0, t1, t2, t3, t4),
    )
