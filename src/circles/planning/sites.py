"""Candidate micro-renewal sites (金角银边, 设施嵌入) and the choice of up to ``k`` new sites for a category.

Candidates come from the region's OpenStreetMap extract (:func:`osm_candidates`: surface parking, vacant
and brownfield land, construction sites, small green spaces, disused buildings, markets) and from a file
the user gives (:func:`read_candidates`: points or polygons in WGS84, GCJ-02, BD-09 or an EPSG CRS).

:func:`choose_sites` solves a **maximal covering location problem** (MCLP): with the existing facilities
of the category fixed, choose at most ``k`` candidates that together newly cover the largest weight of
resident points within the category's threshold (per community type: profile and minutes, as in the
coverage table). Residents already covered by an existing facility count as covered and earn nothing.
Which candidate reaches which resident point is exact network routing: one reverse search per candidate
with the threshold as cutoff, evaluated at the resident points (:meth:`ProfileGraph.search`).

The integer program is solved by :mod:`circles.planning.mclp`.

Weights are what the plan's resident points carry: people (``weight_kind`` population/households/
raster) or **m² of residential area** (``weight_kind == 'area'``, when no population data was given);
area is never reported as residents.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from .. import OSM_ATTRIBUTION
from .._common import WGS84
from ..errors import InputError
from .candidates import KIND_ZH, candidate_sites, normalise_candidates
from .coverage import DEFAULT_TARGET_SHARE
from .mclp import DEFAULT_TIME_LIMIT_S, MclpSolution, solve_mclp

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

log = logging.getLogger(__name__)


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
    thr_s = np.array([cat.threshold_s(t) for t in pts.ctype]) if len(pts) else np.zeros(0)
    local = np.full(len(pts), -1, dtype=np.int64)
    local[idx_all] = np.arange(len(idx_all))
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    best_t = np.full(len(idx_all), np.inf)
    snap_m = np.full(m, np.inf)
    snaps = dict(engine._point_snaps)
    if not snaps and m:  # no resident point at all: still say which sites reach a street
        prof = "walk" if "walk" in result.data.graphs else next(iter(result.data.graphs))
        snaps[prof] = (np.zeros(0, np.int64), result.data.graphs[prof].snap(np.zeros((0, 2)), strict=False))
    for prof, (pidx, psnap) in snaps.items():
        if m == 0:
            break
        g = result.data.graphs[prof]
        ssnap = g.snap(site_xy, max_snap_m=max_snap_m, strict=False)
        ok = ssnap.seg >= 0
        snap_m = np.minimum(snap_m, np.where(ok, ssnap.offstreet_m, np.inf))
        want = (local[pidx] >= 0) & (psnap.seg >= 0)
        if not want.any():
            continue
        sub_idx = pidx[want]
        sub_snap = psnap.subset(want)
        cutoff = float(thr_s[sub_idx].max())
        vmax = max(g.max_speed_m_s, g.offstreet_speed_m_s)
        tree = cKDTree(sub_snap.point_xy)
        for j in np.flatnonzero(ok):
            near = np.asarray(tree.query_ball_point(site_xy[j], cutoff * vmax + 1.0), dtype=np.int64)
            if len(near) == 0:
                continue
            nt = g.search(ssnap.subset(np.array([j])), cutoff_s=cutoff, reverse=True)
            t, _ = nt.at(sub_snap.subset(near))
            hit = t <= thr_s[sub_idx[near]]
            if hit.any():
                li = local[sub_idx[near[hit]]]
                rows_l.append(li)
                cols_l.append(np.full(len(li), j, dtype=np.int64))
                best_t[li] = np.minimum(best_t[li], t[hit])
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
    cols = np.concatenate(cols_l) if cols_l else np.zeros(0, np.int64)
    A = sparse.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(len(idx_all), m))
    return A, snap_m, best_t


# --- choosing sites -----------------------------------------------------------------------------


@dataclass
class SiteChoice:
    """Up to ``k`` new sites for ``category`` and what they newly cover.

    ``sites``: the chosen sites (EPSG:4326; geometry is the site's polygon where known, else its
    point), ranked (``rank`` 1 = largest marginal gain), with columns ``rank``, ``site_id``, ``kind``,
    ``kind_zh``, ``name``, ``source`` (osm/user), ``area_m2`` (site size, m², NaN when unknown),
    ``new_weight`` (weight of uncovered resident points the site reaches on its own), ``added_weight``
    (what it adds after the higher-ranked sites; these add up to ``objective``), ``new_residents`` /
    ``added_residents`` (people; NaN when ``weight_kind == 'area'``), ``new_area_m2`` / ``added_area_m2``
    (m² of residential area, share-based), ``n_communities`` (communities it newly reaches),
    ``closes_gaps`` / ``closes_ids`` (communities whose gap is closed — covered share reaching the
    target — once this site is added to the higher-ranked ones; ``"; "``-joined), ``n_closed``,
    ``snap_m`` (distance to the street), ``lon``/``lat`` (the routing point: the point itself or a
    representative point inside the polygon) and ``baseline`` (sources of the existing facilities kept
    fixed, e.g. ``sample:6``: SAMPLE data when it says so).

    ``communities``: one row per chosen site and community it newly reaches (share before, share
    after the sites up to this rank, whether the gap closes). ``candidates``: every candidate tested,
    with ``new_weight`` on its own, ``usable`` and ``reason`` when it could not be used.
    """

    category: str
    category_zh: str
    k: int
    weight_kind: str
    weight_label: str
    solution: MclpSolution
    sites: gpd.GeoDataFrame
    communities: pd.DataFrame
    candidates: gpd.GeoDataFrame
    total_weight: float
    covered_before: float
    uncovered_before: float
    unreachable_weight: float
    gaps_before: int
    gaps_closed: int
    baseline: dict[str, int]
    demand_points: int = 0
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.solution.method

    @property
    def objective(self) -> float:
        """Weight newly covered by the chosen sites (people, or m² when ``weight_kind == 'area'``)."""
        return self.solution.objective

    @property
    def people(self) -> bool:
        return self.weight_kind != "area"

    @property
    def unit(self) -> str:
        """What the weights count, for messages: never 'residents' for area weights."""
        return {
            "area": "m² of residential area",
            "mixed": "weight (residents where known, m² of area elsewhere)",
        }.get(self.weight_kind, "residents")

    def describe(self) -> list[str]:
        """Plain-text lines for a terminal: the method, objective and bound, then one line per site."""
        s = self.solution
        before = _ratio(self.covered_before, self.total_weight)
        after = _ratio(self.covered_before + s.objective, self.total_weight)
        share = (
            f", covered share {before:.1%} -> {after:.1%}" if before is not None and after is not None else ""
        )
        lines = [
            f"{self.category} {self.category_zh}: {len(self.sites)} site(s) (k = {self.k}) by {s.method}",
            f"newly covered: {s.objective:,.0f} {self.unit} (bound {s.bound:,.0f}, gap {s.gap:.2%}; greedy "
            f"{s.greedy_objective:,.0f}){share}; gaps closed {self.gaps_closed} of {self.gaps_before}",
        ]
        for r in self.sites.itertuples():
            size = f"{r.area_m2:,.0f} m²" if np.isfinite(r.area_m2) else "size unknown"
            label = " ".join(x for x in (r.kind_zh or r.kind, r.name) if x)
            closes = f": {r.closes_gaps}" if r.closes_gaps else ""
            lines.append(
                f"#{r.rank} {r.site_id} {label} ({size}, source {r.source}): +{r.added_weight:,.0f} "
                f"{self.unit}, closes {r.n_closed} gap(s){closes}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (API ``GET /sites``): model, method, objective and bound, and the sites."""
        s = self.solution
        unit = (
            "m² of residential area (AREA-weighted: no population data)"
            if self.weight_kind == "area"
            else self.unit
        )
        sites = pd.DataFrame(self.sites.drop(columns="geometry"))
        return _jsonable(
            {
                "category": self.category,
                "category_zh": self.category_zh,
                "k": self.k,
                "weight_kind": self.weight_kind,
                "weighting": self.weight_label,
                "objective_unit": unit,
                "method": s.method,
                "status": s.status,
                "optimal": s.optimal,
                "objective": s.objective,
                "bound": s.bound,
                "gap": s.gap,
                "lp_bound": s.lp_bound,
                "greedy_objective": s.greedy_objective,
                "solve_time_s": round(s.solve_time_s, 4),
                "model": {
                    "candidates": int(len(self.candidates)),
                    "candidates_usable": int(self.candidates["usable"].sum()) if len(self.candidates) else 0,
                    "candidates_reaching": int((self.candidates["new_weight"] > 0).sum())
                    if len(self.candidates)
                    else 0,
                    "uncovered_points": self.demand_points,
                    "point_groups": s.n_groups,
                    "variables": s.n_variables,
                    "constraints": s.n_constraints,
                },
                "baseline": {
                    "facilities": self.baseline,
                    "total_weight": self.total_weight,
                    "covered_weight": self.covered_before,
                    "uncovered_weight": self.uncovered_before,
                    "unreachable_by_any_candidate": self.unreachable_weight,
                    "covered_share": _ratio(self.covered_before, self.total_weight),
                },
                "after": {
                    "covered_weight": self.covered_before + s.objective,
                    "covered_share": _ratio(self.covered_before + s.objective, self.total_weight),
                },
                "gaps": {"before": self.gaps_before, "closed": self.gaps_closed},
                "sites": sites.to_dict(orient="records"),
                "notes": self.notes,
                "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
                "attribution": OSM_ATTRIBUTION,
            }
        )


def _ratio(a: float, b: float) -> float | None:
    return round(float(a / b), 4) if b > 0 else None


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if o is pd.NA or o is pd.NaT:
        return None
    return o


SITE_COLUMNS: tuple[str, ...] = (
    "rank",
    "site_id",
    "kind",
    "kind_zh",
    "name",
    "source",
    "area_m2",
    "new_weight",
    "added_weight",
    "new_residents",
    "added_residents",
    "new_area_m2",
    "added_area_m2",
    "n_communities",
    "n_closed",
    "closes_gaps",
    "closes_ids",
    "category",
    "threshold_min",
    "weight_kind",
    "snap_m",
    "lon",
    "lat",
    "baseline",
    "osm_tag",
)


def choose_sites(
    result: PlanResult,
    category: str,
    k: int,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    respect_min_area: bool = True,
) -> SiteChoice:
    """Choose up to ``k`` candidate sites for ``category`` maximising the newly covered weight (MCLP).

    ``result``: a :class:`~circles.pipeline.PlanResult` (its existing facilities stay fixed);
    ``candidates``: a candidate table (:data:`CANDIDATE_COLUMNS` + geometry, any CRS; default the
    region's OSM candidates, :func:`candidate_sites`). Only resident points of communities the category
    applies to, not covered now and on the network count. With ``respect_min_area`` a candidate whose
    known size is below the category's ``min_area_m2`` is left out. See :func:`solve_mclp` for
    ``method`` and ``time_limit_s`` and :class:`SiteChoice` for what is returned.
    """
    from ..pipeline import WEIGHT_LABELS

    t0 = time.perf_counter()
    data = result.data
    cat = data.catalog.get(category)
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    if candidates is None:
        candidates = candidate_sites(result)
    cands = normalise_candidates(candidates)
    notes: list[str] = []

    # routing points (metric) and sizes
    metric = cands.to_crs(data.net.crs)
    rep = np.where(
        shapely.get_type_id(metric.geometry.to_numpy()) == 0,
        metric.geometry.to_numpy(),
        shapely.point_on_surface(metric.geometry.to_numpy()),
    )
    site_xy = shapely.get_coordinates(rep).reshape(-1, 2) if len(rep) else np.zeros((0, 2))
    lonlat = (
        np.column_stack(data.net.to_wgs84().transform(site_xy[:, 0], site_xy[:, 1]))
        if len(rep)
        else np.zeros((0, 2))
    )
    polygonal = np.isin(shapely.get_type_id(metric.geometry.to_numpy()), (3, 6))
    own_area = np.where(polygonal, shapely.area(metric.geometry.to_numpy()), np.nan)
    area = cands["area_m2"].to_numpy(dtype=float)
    area = np.where(np.isfinite(area), area, own_area)
    cands["area_m2"] = area

    usable = np.ones(len(cands), bool)
    reason = np.full(len(cands), "", dtype=object)
    if respect_min_area and cat.min_area_m2:
        small = np.isfinite(area) & (area < cat.min_area_m2)
        usable &= ~small
        reason[small] = f"smaller than {cat.min_area_m2:g} m² ({cat.key} min_area_m2)"
        if small.any():
            notes.append(
                f"{int(small.sum())} candidates smaller than the category's {cat.min_area_m2:g} m² left out"
            )

    # baseline: existing facilities fixed
    pts = result.engine.points
    times = (getattr(result, "times", None) or {}).get(category)  # the plan's own, when it kept them
    if times is None or len(times.time_s) != len(pts):
        from ..pipeline import facility_points

        times = result.engine.category_times(category, facility_points(result.data))
    ctype = pts.ctype.astype(str)
    thr_s = np.array([cat.threshold_s(t) for t in ctype]) if len(pts) else np.zeros(0)
    applies = np.array([cat.applies(t) for t in ctype], dtype=bool) if len(pts) else np.zeros(0, bool)
    w = pts.weight.astype(float)
    covered0 = times.time_s <= thr_s
    unsnapped = np.zeros(len(pts), bool)
    unsnapped[result.engine.unsnapped_points] = True
    demand = applies & ~covered0 & ~unsnapped & (w > 0)
    demand_idx = np.flatnonzero(demand)
    t1 = time.perf_counter()

    # coverage matrix of the usable candidates over the uncovered points
    use_idx = np.flatnonzero(usable)
    A_use, snap_m_use, _ = coverage_matrix(result, category, site_xy[use_idx], points=demand_idx)
    snap_m = np.full(len(cands), np.inf)
    snap_m[use_idx] = snap_m_use
    far = np.isin(np.arange(len(cands)), use_idx) & ~np.isfinite(snap_m)
    usable &= ~far
    reason[far] = f"farther than {result.engine.max_snap_m:g} m from any street"
    A_use = sparse.csr_matrix(A_use)
    A = sparse.csr_matrix(
        (A_use.data, use_idx[A_use.indices], A_use.indptr), shape=(len(demand_idx), len(cands))
    )
    t2 = time.perf_counter()

    wd = w[demand_idx]
    reached = np.asarray(A.sum(axis=1)).ravel() > 0 if A.shape[1] else np.zeros(len(demand_idx), bool)
    sol = (
        solve_mclp(A, wd, int(k), method=method, time_limit_s=time_limit_s)
        if len(demand_idx) and A.shape[1]
        else MclpSolution(
            [],
            0.0,
            0.0,
            0.0,
            "trivial (no uncovered resident point)"
            if not len(demand_idx)
            else "trivial (no usable candidate)",
            "Optimal",
            0.0,
            0.0,
            0.0,
            [],
            0,
            0,
            1,
            True,
        )
    )
    t3 = time.perf_counter()

    # per-community accounting
    comm = data.communities
    n_comm = len(comm)
    pc = pts.community
    tot_c = np.bincount(pc, weights=w, minlength=n_comm)
    cov_c0 = np.bincount(pc, weights=np.where(covered0, w, 0.0), minlength=n_comm)
    app_c = np.array([cat.applies(t) for t in comm["type"].astype(str)], dtype=bool)
    target = _target_share(result, category, cat)
    with np.errstate(invalid="ignore", divide="ignore"):
        share0 = np.where(tot_c > 0, cov_c0 / tot_c, np.nan)
    in_gap = app_c & (tot_c > 0) & (share0 < target - 1e-9)
    people = data.weight_kind != "area"
    residents = comm["residents"].to_numpy(dtype=float) if "residents" in comm else np.full(n_comm, np.nan)
    area_c = comm["area_m2"].to_numpy(dtype=float)

    def per_comm(mask_rows: np.ndarray) -> np.ndarray:
        return np.bincount(pc[demand_idx[mask_rows]], weights=wd[mask_rows], minlength=n_comm)

    def scale(wc: np.ndarray) -> tuple[float, float]:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(tot_c > 0, wc / tot_c, 0.0)
        res = float(np.nansum(share * residents)) if people and np.isfinite(residents).any() else np.nan
        return res, float(np.nansum(share * area_c))

    names = comm["name"].astype(str).to_numpy()
    ids = comm["community_id"].astype(str).to_numpy()
    covered_rows = np.zeros(len(demand_idx), bool)
    cov_now = cov_c0.copy()
    closed_total = 0
    site_rows, comm_rows = [], []
    baseline = _baseline(data.facilities, category)
    base_text = ", ".join(f"{k}:{v}" for k, v in baseline.items()) or "none"
    for rank, j in enumerate(sol.chosen, start=1):
        col = A[:, j].toarray().ravel()
        new_c = per_comm(col)
        added_rows = col & ~covered_rows
        added_c = per_comm(added_rows)
        covered_rows |= col
        before = cov_now.copy()
        cov_now = cov_now + added_c
        with np.errstate(invalid="ignore", divide="ignore"):
            share_b = np.where(tot_c > 0, before / tot_c, np.nan)
            share_a = np.where(tot_c > 0, cov_now / tot_c, np.nan)
        closes = in_gap & (share_b < target - 1e-9) & (share_a >= target - 1e-9)
        closed_total += int(closes.sum())
        reached_c = np.flatnonzero(new_c > 0)
        for c in reached_c:
            comm_rows.append(
                {
                    "rank": rank,
                    "site_id": cands["site_id"].iat[j],
                    "community_id": ids[c],
                    "community_name": names[c],
                    "new_weight": float(new_c[c]),
                    "added_weight": float(added_c[c]),
                    "share_before": float(share0[c]),
                    "share_after": float(share_a[c]),
                    "target_share": target,
                    "closes_gap": bool(closes[c]),
                }
            )
        nr, na = scale(new_c)
        ar, aa = scale(added_c)
        order_closed = [c for c in np.flatnonzero(closes)]
        site_rows.append(
            {
                "rank": rank,
                "site_id": cands["site_id"].iat[j],
                "kind": cands["kind"].iat[j],
                "kind_zh": cands["kind_zh"].iat[j] or KIND_ZH.get(cands["kind"].iat[j], ""),
                "name": cands["name"].iat[j],
                "source": cands["source"].iat[j],
                "area_m2": round(float(area[j]), 1) if np.isfinite(area[j]) else np.nan,
                "new_weight": float(new_c.sum()),
                "added_weight": float(added_c.sum()),
                "new_residents": nr if people else np.nan,
                "added_residents": ar if people else np.nan,
                "new_area_m2": na,
                "added_area_m2": aa,
                "n_communities": int(len(reached_c)),
                "n_closed": int(closes.sum()),
                "closes_gaps": "; ".join(names[c] for c in order_closed),
                "closes_ids": "; ".join(ids[c] for c in order_closed),
                "category": category,
                "threshold_min": _threshold_text(cat, comm),
                "weight_kind": data.weight_kind,
                "snap_m": round(float(snap_m[j]), 1),
                "lon": round(float(lonlat[j, 0]), 7),
                "lat": round(float(lonlat[j, 1]), 7),
                "baseline": base_text,
                "osm_tag": cands["osm_tag"].iat[j],
            }
        )
    sites = gpd.GeoDataFrame(
        pd.DataFrame(site_rows, columns=list(SITE_COLUMNS)),
        geometry=gpd.GeoSeries([cands.geometry.iat[j] for j in sol.chosen], crs=WGS84),
        crs=WGS84,
    )
    sites = sites.astype({"rank": "int64", "n_communities": "int64", "n_closed": "int64"})
    comm_df = pd.DataFrame(
        comm_rows,
        columns=[
            "rank",
            "site_id",
            "community_id",
            "community_name",
            "new_weight",
            "added_weight",
            "share_before",
            "share_after",
            "target_share",
            "closes_gap",
        ],
    )

    # every candidate, for the record
    alone = (
        np.asarray((A.multiply(wd[:, None]) if A.shape[0] else A).sum(axis=0)).ravel()
        if A.shape[1]
        else np.zeros(0)
    )
    chosen_rank = np.zeros(len(cands), dtype=np.int64)
    for r, j in enumerate(sol.chosen, start=1):
        chosen_rank[j] = r
    cand_out = cands.copy()
    cand_out["new_weight"] = alone if len(alone) else np.zeros(len(cands))
    cand_out["chosen_rank"] = chosen_rank
    cand_out["usable"] = usable
    cand_out["reason"] = reason.astype(str)
    cand_out["snap_m"] = np.round(snap_m, 1)
    cand_out["lon"] = lonlat[:, 0] if len(lonlat) else np.zeros(0)
    cand_out["lat"] = lonlat[:, 1] if len(lonlat) else np.zeros(0)

    unreachable = float(wd[~reached].sum()) if len(wd) else 0.0
    if baseline.get("sample"):
        notes.append(
            f"the {baseline['sample']} existing {category} facilities marked 'sample' are SAMPLE data, "
            "not observed: the baseline coverage and so what new sites add rest on them"
        )
    if data.weight_kind == "area":
        notes.append("no population data: weights are m² of residential AREA, not residents")
    if not len(demand_idx):
        notes.append("every resident point of the communities this category applies to is already covered")
    elif unreachable > 0:
        notes.append(
            f"{_ratio(unreachable, float(wd.sum())):.1%} of the uncovered weight is reached by no candidate"
        )
    t4 = time.perf_counter()
    log.info(
        "sites %s k=%d: %s, %d candidates, %d groups, objective %.1f (bound %.1f), %.2f s",
        category,
        k,
        sol.method,
        len(cands),
        sol.n_groups,
        sol.objective,
        sol.bound,
        t4 - t0,
    )
    return SiteChoice(
        category=category,
        category_zh=cat.name_zh,
        k=int(k),
        weight_kind=data.weight_kind,
        weight_label=WEIGHT_LABELS.get(data.weight_kind, data.weight_kind),
        solution=sol,
        sites=sites,
        communities=comm_df,
        candidates=cand_out,
        total_weight=float(w[applies].sum()),
        covered_before=float(w[applies & covered0].sum()),
        uncovered_before=float(w[applies & ~covered0].sum()),
        unreachable_weight=unreachable + float(w[applies & ~covered0 & unsnapped].sum()),
        gaps_before=int(in_gap.sum()),
        gaps_closed=closed_total,
        baseline=baseline,
        demand_points=int(len(demand_idx)),
        notes=notes,
        timings_s={
            "baseline_s": t1 - t0,
            "coverage_matrix_s": t2 - t1,
            "solve_s": t3 - t2,
            "total_s": t4 - t0,
        },
    )


def _target_share(result: PlanResult, category: str, cat) -> float:
    cov = result.coverage
    if cov is not None and len(cov) and "target_share" in cov:
        rows = cov[cov["category"] == category]
        if len(rows):
            return float(rows["target_share"].iloc[0])
    return float(cat.coverage_target or DEFAULT_TARGET_SHARE)


def _threshold_text(cat, comm: pd.DataFrame) -> str:
    types = sorted(set(comm["type"].astype(str))) if len(comm) else []
    parts = sorted({f"{cat.threshold_min(t):g} min {cat.profile_for(t)}" for t in types if cat.applies(t)})
    return ", ".join(parts)


def _baseline(fac: gpd.GeoDataFrame, category: str) -> dict[str, int]:
    f = fac[fac["category"] == category]
    return {str(k): int(v) for k, v in f["source"].fillna("").value_counts().sort_index().items()}


def site_points(choice_or_sites: SiteChoice | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The chosen sites with their routing point as geometry (EPSG:4326)."""
    sites = choice_or_sites.sites if isinstance(choice_or_sites, SiteChoice) else choice_or_sites
    out = sites.copy()
    out = out.set_geometry(gpd.points_from_xy(sites["lon"], sites["lat"], crs=WGS84))
    return out
