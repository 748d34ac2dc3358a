"""Before/after numbers of a scenario for one category: communities short of the target (the coverage
gaps ``/gaps?kind=coverage`` lists), residents covered and uncovered, per district and in total."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from circles.planning.queries import coverage_at, district_names

from .scenarios import PlanView

__all__ = ["circle_numbers", "compare_body", "delta_body"]


def _residents(view: PlanView) -> np.ndarray:
    """Residents per community row (persons): the plan's where it has population data, else the
    census-based estimate of an area-weighted plan (0 where unknown)."""
    comm = view.result.data.communities
    column = "residents" if view.result.data.weight_kind != "area" else "residents_estimate"
    if column not in comm:
        return np.zeros(len(comm))
    return np.nan_to_num(pd.to_numeric(comm[column], errors="coerce").to_numpy(dtype=float))


def circle_numbers(
    view: PlanView, category: str, minutes: float | None, district: str | None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """(totals, per-district table) of ``category`` within ``minutes`` (None: each community's own
    threshold) over the communities of ``district`` (an official name; None: all):
    ``communities_short`` (coverage gaps), ``residents_covered`` and ``residents_uncovered`` (persons,
    communities the category serves). The table has one row per district: ``short``, ``covered``."""
    res = view.result
    rows = coverage_at(res, category, minutes)
    r = rows["community_row"].to_numpy(dtype=np.int64)
    serves = rows["applies"].to_numpy(dtype=bool)
    share = np.nan_to_num(rows["covered_share"].to_numpy(dtype=float))
    people = _residents(view)[r] * serves
    dist = district_names(res.data.communities["district"].fillna(""))[r].astype(str)
    idx = view.gap_index(minutes)
    gap_rows = idx.matching(category=category, kind="coverage")
    short = pd.Series(idx.district[gap_rows]).value_counts()
    table = pd.DataFrame({"district": dist, "covered": share * people, "uncovered": (1 - share) * people})
    per = table.groupby("district", sort=True)[["covered", "uncovered"]].sum()
    per = per.reindex(per.index.union(short.index), fill_value=0.0)
    per["short"] = short.reindex(per.index, fill_value=0).astype(int)
    if district is not None:
        per = per[per.index == district]
    totals = {
        "communities_short": int(per["short"].sum()),
        "residents_uncovered": round(float(per["uncovered"].sum()), 1),
        "residents_covered": round(float(per["covered"].sum()), 1),
    }
    return totals, per


def delta_body(
    base: PlanView, other: PlanView, category: str, minutes: float | None, district: str | None
) -> dict[str, Any]:
    """The ``/scenarios/{id}/delta`` answer: ``other`` (a scenario's plan) against ``base``."""
    before, per_before = circle_numbers(base, category, minutes, district)
    after, per_after = circle_numbers(other, category, minutes, district)
    names = per_before.index.union(per_after.index)
    b = per_before.reindex(names, fill_value=0)
    a = per_after.reindex(names, fill_value=0)
    cat = base.result.data.catalog.get(category)
    return {
        "scenario": other.scenario_id or "baseline",
        "category": category,
        "minutes": float(minutes) if minutes is not None else cat.threshold_min("urban"),
        "weight_kind": base.result.data.weight_kind,
        "residents_estimated": base.result.data.weight_kind == "area",
        "baseline": before,
        "scenario_values": after,
        "delta": {
            "gaps_closed": before["communities_short"] - after["communities_short"],
            "residents_newly_covered": round(after["residents_covered"] - before["residents_covered"], 1),
        },
        "by_district": [
            {
                "district": str(name),
                "baseline_short": int(b.at[name, "short"]),
                "scenario_short": int(a.at[name, "short"]),
                "residents_newly_covered": round(float(a.at[name, "covered"] - b.at[name, "covered"]), 1),
            }
            for name in names
        ],
    }


def compare_body(
    base: PlanView, a: PlanView, b: PlanView, category: str, minutes: float | None, district: str | None
) -> dict[str, Any]:
    """The ``/scenarios/compare`` answer: each side's delta against the baseline."""
    return {
        "a": delta_body(base, a, category, minutes, district),
        "b": delta_body(base, b, category, minutes, district),
    }
