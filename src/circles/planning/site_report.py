"""What chosen sites do, community by community, and how a site choice is reported.

:func:`circles.planning.sites.choose_sites` picks the sites; this module accounts for them and reports
them: per community the weight covered before any new site (:class:`CommunityBaseline`), per chosen
site in rank order what it newly reaches and adds after the higher-ranked ones (:func:`site_effects`),
the sites and community tables built from that (:func:`site_table`, :func:`community_table`) and the
:class:`SiteChoice` with its terminal lines (:meth:`SiteChoice.describe`) and API JSON
(:meth:`SiteChoice.as_dict`).

Weights are what the plan's resident points carry: people, or m² of residential area when the plan is
area-weighted (``weight_kind == 'area'``); area is never reported as residents. Layers are in EPSG:4326.

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from .. import OSM_ATTRIBUTION
from .._common import WGS84, jsonable
from .candidates import KIND_ZH
from .mclp import MclpSolution

__all__ = [
    "BRIEF_COLUMNS",
    "COMMUNITY_COLUMNS",
    "SITE_COLUMNS",
    "CommunityBaseline",
    "SiteChoice",
    "SiteEffect",
    "choice_notes",
    "community_table",
    "site_effects",
    "site_points",
    "site_table",
]

#: Columns of :attr:`SiteChoice.sites` (plus ``geometry``).
SITE_COLUMNS: tuple[str, ...] = (
    "rank",
    "site_id",
    "kind",
    "kind_zh",
    "name",
    "source",
    "area_m2",
    "width_m",
    "length_m",
    "clear_width_m",
    "new_weight",
    "added_weight",
    "new_residents",
    "added_residents",
    "new_area_m2",
    "added_area_m2",
    "added_households",
    "suggested_floor_m2",
    "floor_basis",
    "n_communities",
    "n_closed",
    "closes_gaps",
    "closes_ids",
    "nearest_existing_min",
    "nearest_existing_m",
    "nearest_existing_name",
    "category",
    "threshold_min",
    "weight_kind",
    "snap_m",
    "lon",
    "lat",
    "baseline",
    "osm_tag",
    "reason",
)
#: Columns of the per-site brief (:func:`site_table`'s ``brief``), computed outside this module.
BRIEF_COLUMNS: tuple[str, ...] = (
    "width_m",
    "length_m",
    "clear_width_m",
    "added_households",
    "suggested_floor_m2",
    "floor_basis",
    "nearest_existing_min",
    "nearest_existing_m",
    "nearest_existing_name",
    "reason",
)

#: Columns of :attr:`SiteChoice.communities`.
COMMUNITY_COLUMNS: tuple[str, ...] = (
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
)

#: Tolerance on shares when judging whether a community meets its target share.
_SHARE_TOL = 1e-9


def _ratio(a: float, b: float) -> float | None:
    """``a / b`` rounded to 4 places, None when ``b`` is not positive."""
    return round(float(a / b), 4) if b > 0 else None


# --- accounting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityBaseline:
    """Per community (rows of the plan's communities table), for one category, before any new site:
    ``total`` and ``covered`` resident weight (people, or m² when area-weighted), the covered
    ``share`` (NaN without weight), ``in_gap`` (the category applies and the share is below
    ``target_share``), and what a share of the weight is worth: ``residents`` (people, NaN unknown)
    and ``area_m2`` (the community's residential area, m²)."""

    total: np.ndarray
    covered: np.ndarray
    share: np.ndarray
    in_gap: np.ndarray
    target_share: float
    residents: np.ndarray
    area_m2: np.ndarray
    ids: np.ndarray
    names: np.ndarray
    people: bool

    @classmethod
    def build(
        cls,
        communities: pd.DataFrame,
        point_community: np.ndarray,
        weight: np.ndarray,
        covered: np.ndarray,
        applies: np.ndarray,
        target_share: float,
        people: bool,
    ) -> CommunityBaseline:
        """From the resident points (``point_community``: row of each point's community; ``weight``;
        ``covered``: covered now) and, per community, whether the category ``applies``."""
        n = len(communities)
        total = np.bincount(point_community, weights=weight, minlength=n)
        cov = np.bincount(point_community, weights=np.where(covered, weight, 0.0), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, cov / total, np.nan)
        in_gap = applies & (total > 0) & (share < target_share - _SHARE_TOL)
        residents = (
            communities["residents"].to_numpy(dtype=float)
            if "residents" in communities
            else np.full(n, np.nan)
        )
        return cls(
            total=total,
            covered=cov,
            share=share,
            in_gap=in_gap,
            target_share=target_share,
            residents=residents,
            area_m2=communities["area_m2"].to_numpy(dtype=float),
            ids=communities["community_id"].astype(str).to_numpy(),
            names=communities["name"].astype(str).to_numpy(),
            people=people,
        )

    def shares(self, weight_c: np.ndarray) -> np.ndarray:
        """Per community, ``weight_c`` as a share of its total weight (NaN without weight)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.total > 0, weight_c / self.total, np.nan)

    def scale(self, weight_c: np.ndarray) -> tuple[float, float]:
        """Residents (NaN when area-weighted or unknown) and m² of residential area that the per-community
        weights ``weight_c`` stand for (each community's share of its total weight)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.total > 0, weight_c / self.total, 0.0)
        known = self.people and np.isfinite(self.residents).any()
        res = float(np.nansum(share * self.residents)) if known else np.nan
        return res, float(np.nansum(share * self.area_m2))

    def closes(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Communities in a gap whose covered weight moving from ``before`` to ``after`` reaches the
        target share."""
        target = self.target_share - _SHARE_TOL
        return self.in_gap & (self.shares(before) < target) & (self.shares(after) >= target)


@dataclass(frozen=True)
class SiteEffect:
    """What the chosen site of ``rank`` (candidate row ``candidate``) does, per community: ``new_c``
    the uncovered weight it reaches on its own, ``added_c`` what it adds after the higher-ranked
    sites, ``share_after`` the covered share with the sites up to it, ``closes`` the gaps it closes."""

    rank: int
    candidate: int
    new_c: np.ndarray
    added_c: np.ndarray
    share_after: np.ndarray
    closes: np.ndarray

    @property
    def reached(self) -> np.ndarray:
        """Rows of the communities it newly reaches."""
        return np.flatnonzero(self.new_c > 0)


def site_effects(
    A: sparse.csr_matrix,
    chosen: Sequence[int],
    demand_community: np.ndarray,
    demand_weight: np.ndarray,
    base: CommunityBaseline,
) -> list[SiteEffect]:
    """The effect of each chosen site, in rank order (``chosen``: candidate columns of ``A``, the
    demand points x candidates coverage matrix; ``demand_community``/``demand_weight``: each demand
    point's community row and weight)."""
    n = len(base.total)

    def per_comm(rows: np.ndarray) -> np.ndarray:
        return np.bincount(demand_community[rows], weights=demand_weight[rows], minlength=n)

    covered_rows = np.zeros(A.shape[0], bool)
    cov_now = base.covered.copy()
    out = []
    for rank, j in enumerate(chosen, start=1):
        col = A[:, j].toarray().ravel()
        added_c = per_comm(col & ~covered_rows)
        covered_rows |= col
        before, cov_now = cov_now, cov_now + added_c
        out.append(
            SiteEffect(rank, j, per_comm(col), added_c, base.shares(cov_now), base.closes(before, cov_now))
        )
    return out


def site_table(
    effects: Sequence[SiteEffect],
    base: CommunityBaseline,
    candidates: gpd.GeoDataFrame,
    *,
    snap_m: np.ndarray,
    lonlat: np.ndarray,
    fixed: Mapping[str, str],
    brief: Mapping[str, Sequence[Any]] | None = None,
) -> gpd.GeoDataFrame:
    """The chosen sites (:data:`SITE_COLUMNS`, EPSG:4326, geometry the candidate's own).

    ``candidates``: the candidate table (its ``area_m2`` filled in, m²); ``snap_m``: each candidate's
    distance to its street (m); ``lonlat``: its routing point (WGS84 degrees); ``fixed``: the columns
    equal for every site (``category``, ``threshold_min``, ``weight_kind``, ``baseline``); ``brief``:
    :data:`BRIEF_COLUMNS`, one value per site in rank order (missing ones are null)."""
    rows = []
    for n_site, e in enumerate(effects):
        j = e.candidate
        nr, na = base.scale(e.new_c)
        ar, aa = base.scale(e.added_c)
        closed = np.flatnonzero(e.closes)
        area = float(candidates["area_m2"].iat[j])
        rows.append(
            {
                "rank": e.rank,
                "site_id": candidates["site_id"].iat[j],
                "kind": candidates["kind"].iat[j],
                "kind_zh": candidates["kind_zh"].iat[j] or KIND_ZH.get(candidates["kind"].iat[j], ""),
                "name": candidates["name"].iat[j],
                "source": candidates["source"].iat[j],
                "area_m2": round(area, 1) if np.isfinite(area) else np.nan,
                "new_weight": float(e.new_c.sum()),
                "added_weight": float(e.added_c.sum()),
                "new_residents": nr if base.people else np.nan,
                "added_residents": ar if base.people else np.nan,
                "new_area_m2": na,
                "added_area_m2": aa,
                "n_communities": int(len(e.reached)),
                "n_closed": int(e.closes.sum()),
                "closes_gaps": "; ".join(base.names[c] for c in closed),
                "closes_ids": "; ".join(base.ids[c] for c in closed),
                **fixed,
                "snap_m": round(float(snap_m[j]), 1),
                "lon": round(float(lonlat[j, 0]), 7),
                "lat": round(float(lonlat[j, 1]), 7),
                "osm_tag": candidates["osm_tag"].iat[j],
                **{c: v[n_site] for c, v in (brief or {}).items()},
            }
        )
    sites = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=list(SITE_COLUMNS)),
        geometry=gpd.GeoSeries([candidates.geometry.iat[e.candidate] for e in effects], crs=WGS84),
        crs=WGS84,
    )
    numeric = [c for c in BRIEF_COLUMNS if c not in ("floor_basis", "nearest_existing_name", "reason")]
    text = ["floor_basis", "nearest_existing_name", "reason"]
    return sites.astype(
        {"rank": "int64", "n_communities": "int64", "n_closed": "int64"}
        | dict.fromkeys(numeric, "float64")
        | dict.fromkeys(text, object)
    )


def community_table(
    effects: Sequence[SiteEffect], base: CommunityBaseline, candidates: gpd.GeoDataFrame
) -> pd.DataFrame:
    """One row per chosen site and community it newly reaches (:data:`COMMUNITY_COLUMNS`)."""
    rows = [
        {
            "rank": e.rank,
            "site_id": candidates["site_id"].iat[e.candidate],
            "community_id": base.ids[c],
            "community_name": base.names[c],
            "new_weight": float(e.new_c[c]),
            "added_weight": float(e.added_c[c]),
            "share_before": float(base.share[c]),
            "share_after": float(e.share_after[c]),
            "target_share": base.target_share,
            "closes_gap": bool(e.closes[c]),
        }
        for e in effects
        for c in e.reached
    ]
    return pd.DataFrame(rows, columns=list(COMMUNITY_COLUMNS))


def choice_notes(
    category: str,
    baseline: Mapping[str, int],
    weight_kind: str,
    demand_weight: np.ndarray,
    unreachable_weight: float,
) -> list[str]:
    """Notes for the reader of a site choice: SAMPLE facilities in the baseline, area weighting, and
    nothing left to cover or how much of the uncovered weight (``demand_weight``, per demand point) no
    candidate reaches (``unreachable_weight``)."""
    notes = []
    if baseline.get("sample"):
        notes.append(
            f"the {baseline['sample']} existing {category} facilities marked 'sample' are SAMPLE data, "
            "not observed: the baseline coverage and so what new sites add rest on them"
        )
    if weight_kind == "area":
        notes.append("no population data: weights are m² of residential AREA, not residents")
    if not len(demand_weight):
        notes.append("every resident point of the communities this category applies to is already covered")
    elif unreachable_weight > 0:
        share = _ratio(unreachable_weight, float(demand_weight.sum()))
        notes.append(f"{share:.1%} of the uncovered weight is reached by no candidate")
    return notes


# --- the choice and its reports ------------------------------------------------------------------


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
            if np.isfinite(r.width_m):
                size += f", {r.width_m:.0f} × {r.length_m:.0f} m"
            if np.isfinite(r.suggested_floor_m2):
                size += f", build {r.suggested_floor_m2:,.0f} m² of floor"
            label = " ".join(x for x in (r.kind_zh or r.kind, r.name) if x)
            closes = f": {r.closes_gaps}" if r.closes_gaps else ""
            lines.append(
                f"#{r.rank} {r.site_id} {label} ({size}, source {r.source}): +{r.added_weight:,.0f} "
                f"{self.unit}, closes {r.n_closed} gap(s){closes}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def _model_summary(self) -> dict[str, Any]:
        s, cands = self.solution, self.candidates
        return {
            "candidates": int(len(cands)),
            "candidates_usable": int(cands["usable"].sum()) if len(cands) else 0,
            "candidates_reaching": int((cands["new_weight"] > 0).sum()) if len(cands) else 0,
            "uncovered_points": self.demand_points,
            "point_groups": s.n_groups,
            "variables": s.n_variables,
            "constraints": s.n_constraints,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (API ``GET /sites``): model, method, objective and bound, and the sites."""
        s = self.solution
        unit = (
            "m² of residential area (AREA-weighted: no population data)"
            if self.weight_kind == "area"
            else self.unit
        )
        sites = pd.DataFrame(self.sites.drop(columns="geometry"))
        return jsonable(
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
                "model": self._model_summary(),
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


def site_points(choice_or_sites: SiteChoice | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The chosen sites with their routing point as geometry (EPSG:4326)."""
    sites = choice_or_sites.sites if isinstance(choice_or_sites, SiteChoice) else choice_or_sites
    out = sites.copy()
    out = out.set_geometry(gpd.points_from_xy(sites["lon"], sites["lat"], crs=WGS84))
    return out
