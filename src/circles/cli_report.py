"""What ``circles plan`` prints: the region table (shares per category at its threshold and each level,
in the plan's measure) and the most severe gaps. Logging is for progress; these are the command's
answer, printed with rich to the console the command gives."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .catalog import LEVELS_MIN

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from rich.console import Console

__all__ = ["level_headers", "print_summary", "print_worst_gaps"]


def level_headers(summary: dict[str, Any]) -> list[str]:
    """Column headers of the level shares: ``5 min`` … in a time plan, ``300 m`` … in a distance plan
    (the summary's ``levels``)."""
    levels = {lv["level_min"]: lv["threshold"] for lv in summary.get("levels", [])}
    return [levels.get(lv, f"{lv} min") for lv in LEVELS_MIN]


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def print_summary(summary: dict[str, Any], console: Console) -> None:
    """The region table: share covered per category at its threshold and at each level (in the plan's
    measure: minutes, or metres for walking communities), communities short, facilities by source."""
    from rich.table import Table

    people = summary["weight_kind"] != "area"
    t = Table(
        title=f"{summary['region_name']} — share of {'residents' if people else 'residential AREA'} covered "
        f"(© OpenStreetMap contributors)"
    )
    levels = level_headers(summary)
    for col in ("category", "类别", "level", "at threshold", *levels, "short", "facilities"):
        t.add_column(col, justify="right" if col not in ("category", "类别", "facilities") else "left")
    for c in summary["categories"]:
        fac = (
            ", ".join(f"{n} {src.upper() if src == 'sample' else src}" for src, n in c["facilities"].items())
            or "none"
        )
        t.add_row(
            c["category"],
            c["name_zh"],
            f"{c['level_min']}",
            _pct(c["covered_share"]),
            *(_pct(c.get(f"share_{lv}min")) for lv in LEVELS_MIN),
            str(c["communities_short"]),
            fac,
        )
    console.print(t)
    estimated = [c for c in summary["categories"] if c.get("residents_estimate")]
    if estimated:
        parts = [f"{c['name_zh']} {c['residents_estimate']['uncovered']:,}" for c in estimated]
        console.print(
            "residents NOT covered, ESTIMATE (census spread over residential land, not counted people): "
            + ", ".join(parts)
        )
    park = summary.get("park_service_coverage")
    if park:
        console.print(
            f"park service-radius coverage {_pct(park['covered_share'])} "
            f"(plan target > {100 * park['target']:.0f}%: "
            f"{'met' if park['meets_target'] else 'NOT met'})"
        )
    console.print(f"measure: {summary.get('measure_label', 'time')}")
    console.print(
        f"{summary['communities']} communities, {summary['gaps']['coverage']} coverage gaps, "
        f"{summary['gaps']['capacity']} capacity gaps; weighting: {summary['weighting']}"
    )
    for note in summary["notes"]:
        console.print(f"note: {note}")


def print_worst_gaps(gaps: pd.DataFrame, weight_kind: str, console: Console, n: int = 8) -> None:
    """The top of the gap list (配套缺失清单), most severe first."""
    from rich.table import Table

    if gaps is None or len(gaps) == 0:
        return
    people = weight_kind != "area"
    t = Table(title=f"most severe gaps (of {len(gaps)}; full list in gaps.csv)")
    for col in (
        "#",
        "community",
        "district",
        "missing",
        "level",
        "covered",
        "uncovered " + ("residents" if people else "area m²"),
        "nearest (min)",
        "nearest (m)",
    ):
        t.add_column(
            col,
            justify="right"
            if col in ("#", "level", "covered", "nearest (min)", "nearest (m)") or col.startswith("uncovered")
            else "left",
        )
    for r in gaps.head(n).itertuples():
        unc = r.uncovered_residents if people else r.uncovered_area_m2
        near = (
            "none reachable"
            if not (r.nearest_time_min == r.nearest_time_min) or r.nearest_time_min == float("inf")
            else f"{r.nearest_time_min:.0f}{' (sample)' if r.nearest_facility_source == 'sample' else ''}"
        )
        t.add_row(
            str(r.severity_rank),
            str(r.community_name),
            str(r.district),
            f"{r.category_zh} {r.category}",
            f"{r.level_min}",
            f"{100 * r.covered_share:.0f}%",
            f"{unc:,.0f}",
            near,
            "—" if not math.isfinite(float(r.nearest_walk_m)) else f"{float(r.nearest_walk_m):,.0f}",
        )
    console.print(t)
