"""One store, many workers: the plan a worker answers from is a function of the committed edits.

The model:

- **SQLite is the single source of truth** (:mod:`api.store`, WAL). Every edit is one ``BEGIN
  IMMEDIATE`` transaction that also appends to the audit log; the log's last row number is the store's
  *revision*. SQLite admits one writer at a time across processes, so edits are totally ordered.
- **A worker's plan is derived, never authoritative**: the base plan of its community layer (the
  region's or the planner's facilities, no edits) plus the edits of a :class:`~api.store.Snapshot`,
  in a canonical order (base rows in their order without the hidden ones, then user rows in insertion
  order) — :func:`desired_facilities`. Two workers at the same revision hold the same facility table.
- **Readers refresh**: before answering, a request compares the store's revision (one indexed read)
  with the one its worker's plan reflects; when another process changed the store, the worker replays
  the difference first (:func:`converge`: only the categories whose facilities changed are searched
  again; a different community layer is planned afresh).
- **Writers catch up inside their transaction**: a worker syncs to the committed revision while holding
  the write lock, validates against that, writes, and publishes the new plan only after the commit.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from circles._common import WGS84
from circles.pipeline import PlanResult, with_facilities

from .store import Snapshot

FACILITY_COLUMNS = ["facility_id", "category", "name", "floor_area_m2", "source"]


def user_rows(added: list[dict[str, Any]], categories: set[str]) -> gpd.GeoDataFrame:
    """User facilities of the store (WGS84 points) whose category the catalog knows, in their order."""
    rows = [a for a in added if a["category"] in categories]
    return gpd.GeoDataFrame(
        {
            "facility_id": [str(a["facility_id"]) for a in rows],
            "category": [str(a["category"]) for a in rows],
            "name": [a["name"] or "" for a in rows],
            "floor_area_m2": pd.array(
                [math.nan if a["floor_area_m2"] is None else float(a["floor_area_m2"]) for a in rows],
                dtype="float64",
            ),
            "source": "user",
        },
        geometry=gpd.points_from_xy([a["lon"] for a in rows], [a["lat"] for a in rows]),
        crs=WGS84,
    )


def desired_facilities(base: gpd.GeoDataFrame, snap: Snapshot, categories: set[str]) -> gpd.GeoDataFrame:
    """The facility table the edits of ``snap`` make of the ``base`` table (canonical order)."""
    kept = base[~base["facility_id"].astype(str).isin(snap.hidden)]
    user = user_rows(snap.added, categories)
    if not len(user):
        return gpd.GeoDataFrame(kept.reset_index(drop=True), geometry="geometry", crs=WGS84)
    return gpd.GeoDataFrame(pd.concat([kept, user], ignore_index=True), geometry="geometry", crs=WGS84)


def _rows_by_category(fac: gpd.GeoDataFrame) -> dict[str, list[tuple[Any, ...]]]:
    """One comparable tuple per facility row (id, name, area, source, lon, lat), by category, in table
    order."""
    area = pd.to_numeric(fac["floor_area_m2"], errors="coerce").to_numpy(dtype=float)
    keys = zip(
        fac["facility_id"].astype(str).tolist(),
        fac["name"].fillna("").astype(str).tolist(),
        [None if np.isnan(a) else float(a) for a in area.tolist()],
        fac["source"].fillna("").astype(str).tolist(),
        fac.geometry.x.round(9).tolist(),
        fac.geometry.y.round(9).tolist(),
    )
    out: dict[str, list[tuple[Any, ...]]] = {}
    for cat, key in zip(fac["category"].astype(str).tolist(), keys):
        out.setdefault(cat, []).append(key)
    return out


def changed_categories(current: gpd.GeoDataFrame, desired: gpd.GeoDataFrame) -> list[str]:
    """Categories whose facility rows (or their order) differ between two tables."""
    a, b = _rows_by_category(current), _rows_by_category(desired)
    return [c for c in sorted(set(a) | set(b)) if a.get(c, []) != b.get(c, [])]


def converge(result: PlanResult, desired: gpd.GeoDataFrame) -> tuple[PlanResult, list[str]]:
    """``result`` with the facility table ``desired``: the categories that differ searched again, the
    rest reused (``result`` itself when nothing differs); and the categories searched again."""
    current = result.data.facilities
    changed = changed_categories(current, desired)
    same_order = (
        len(current) == len(desired)
        and (
            current["facility_id"].astype(str).to_numpy() == desired["facility_id"].astype(str).to_numpy()
        ).all()
    )
    if not changed and same_order:
        return result, []
    return with_facilities(result, desired, changed), changed
