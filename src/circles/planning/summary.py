"""The region summary of a plan: share of residents (or area) covered per category and level, the plan's
targets (park service-radius coverage > 90 %), facility counts by source, the resident ESTIMATE where no
population is known, notes on the data and the input checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import OSM_ATTRIBUTION, __version__
from ..catalog import LEVELS_MIN, Catalog
from ..measures import MEASURE_LABELS

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanData
    from .coverage import CoverageEngine

WEIGHT_LABELS = {
    "population": "residents (community population)",
    "households": "residents (households x persons per household of the district, 2020 census)",
    "raster": "residents (population raster)",
    "area": "AREA-WEIGHTED: m² of residential area, not people (no population data given)",
    "mixed": "residents where known, m² of area elsewhere (mixed)",
}


def region_summary(
    data: PlanData, cov: pd.DataFrame, gaps: pd.DataFrame, engine: CoverageEngine, timings: dict
) -> dict:
    """Share of residents (or area) covered per category and level, and the plan targets, by the plan's
    measure (``measure``; ``levels`` states each level's threshold in it)."""
    cats = [_category_entry(data, str(key), grp, gaps) for key, grp in cov.groupby("category", sort=False)]
    park = next((c for c in cats if c["category"] == "park"), None)
    kind = data.weight_kind
    return {
        "region": data.region.key,
        "region_name": data.region.name_zh,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "circles_version": __version__,
        "attribution": OSM_ATTRIBUTION,
        "data_source": data.region.source,
        "weight_kind": kind,
        "weighting": WEIGHT_LABELS.get(kind, kind),
        "measure": data.measure,
        "measure_label": MEASURE_LABELS[data.measure],
        "levels": level_thresholds(data.catalog, data.measure),
        "communities": int(len(data.communities)),
        "resident_points": int(len(engine.points)),
        "resident_points_off_network": int(len(engine.unsnapped_points)),
        "total_weight": float(data.points["weight"].sum()),
        "facilities": {
            k: v
            for k, v in data.facilities.groupby(["category", "source"])
            .size()
            .unstack(fill_value=0)
            .T.to_dict()
            .items()
        }
        if len(data.facilities)
        else {},
        "sample_facilities": int((data.facilities["source"] == "sample").sum()),
        "gaps": {
            "coverage": int((gaps["kind"] == "coverage").sum()) if len(gaps) else 0,
            "capacity": int((gaps["kind"] == "capacity").sum()) if len(gaps) else 0,
        },
        "park_service_coverage": None
        if park is None
        else {
            "covered_share": park["covered_share"],
            "target": park.get("coverage_target", 0.9),
            "meets_target": park.get("meets_target"),
            "threshold_min": park["threshold_min"],
            "threshold_m": park["threshold_m"],
            "source": "plan item 6: park/green-space service-radius coverage > 90% by 2025",
        },
        "categories": cats,
        "notes": data.notes,
        **({"input_checks": data.input_checks} if data.input_checks else {}),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def _category_entry(data: PlanData, key: str, grp: pd.DataFrame, gaps: pd.DataFrame) -> dict[str, Any]:
    """One category's region shares (at its thresholds and at each level), counts and target."""
    cat = data.catalog.get(key)
    g = grp[grp["applies"]]
    tot = g["total_weight"].sum()
    entry: dict[str, Any] = {
        "category": key,
        "name_zh": cat.name_zh,
        "name_en": cat.name_en,
        "level_min": cat.level_min,
        "focus": cat.focus,
        "threshold_min": sorted(set(g["threshold_min"].dropna().tolist())),
        "threshold_m": sorted(set(g["threshold_m"].dropna().tolist())) if "threshold_m" in g else [],
        "facilities": _count_by_source(data.facilities, key),
        "communities": int(len(g)),
        "covered_share": _ratio((g["covered_share"] * g["total_weight"]).sum(), tot),
        **{f"share_{lv}min": _ratio((g[f"share_{lv}"] * g["total_weight"]).sum(), tot) for lv in LEVELS_MIN},
        "communities_short": int(((gaps["category"] == key) & (gaps["kind"] == "coverage")).sum())
        if len(gaps)
        else 0,
    }
    estimate = _estimated_coverage(data.communities, g)
    if estimate:
        entry["residents_estimate"] = estimate
    if cat.coverage_target:
        entry["coverage_target"] = cat.coverage_target
        entry["meets_target"] = bool(
            entry["covered_share"] is not None and entry["covered_share"] >= cat.coverage_target
        )
    return entry


def level_thresholds(catalog: Catalog, measure: str) -> list[dict[str, Any]]:
    """Each level's threshold in ``measure`` for walking communities (``5 min`` or ``300 m``), with the
    level's minutes, metres and sources; ``share_<N>min`` of the summary are judged at these."""
    out = []
    for lv in catalog.level_table:
        label = f"{lv.walk_m:g} m" if measure == "distance" else f"{lv.minutes} min"
        out.append(
            {
                "level_min": lv.minutes,
                "threshold": label,
                "walk_m": lv.walk_m,
                "rural": f"{lv.minutes} min by bicycle",
                "sources": list(lv.sources),
            }
        )
    return out


def _estimated_coverage(comm: pd.DataFrame, rows: pd.DataFrame) -> dict[str, Any] | None:
    """Residents covered and uncovered by the census-spread ESTIMATE (see
    :func:`circles.inputs.estimate_residents`), when the plan has no population data; else None."""
    if "residents_estimate" not in comm:
        return None
    est = comm["residents_estimate"].to_numpy(dtype=float)[rows["community_row"].to_numpy()]
    known = np.isfinite(est)
    if not known.any():
        return None
    covered = float((rows["covered_share"].to_numpy()[known] * est[known]).sum())
    total = float(est[known].sum())
    return {
        "label": "ESTIMATE (census spread over residential land), not counted people",
        "residents": round(total),
        "covered": round(covered),
        "uncovered": round(total - covered),
        "covered_share": _ratio(covered, total),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(float(a / b), 4) if b > 0 else None


def _count_by_source(fac: gpd.GeoDataFrame, key: str) -> dict[str, int]:
    sources = fac["source"][fac["category"] == key]  # one column, not the table with its geometry
    return {str(k): int(v) for k, v in sources.value_counts().items()}
