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

from circles._common import WGS84, string_values
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


#: the place of the floor area among the columns :func:`_facility_columns` compares (missing equals missing)
_AREA = 2


def _facility_columns(fac: gpd.GeoDataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """The category of each facility row and the columns a row is compared by (id, name, floor area,
    source, lon, lat rounded to 1e-9 degrees), as arrays in table order."""
    area = pd.to_numeric(fac["floor_area_m2"], errors="coerce").to_numpy(dtype=float)
    points = fac.geometry.array
    return string_values(fac["category"]), [
        string_values(fac["facility_id"]),
        string_values(fac["name"], missing=""),
        area,
        string_values(fac["source"], missing=""),
        np.round(points.x, 9),
        np.round(points.y, 9),
    ]


def _by_category(category: np.ndarray) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """The rows in category order (stable: table order within one) and each category's range there."""
    order = np.argsort(category, kind="stable")
    names, first, count = np.unique(category[order], return_index=True, return_counts=True)
    return order, {str(c): (int(f), int(f + n)) for c, f, n in zip(names, first, count)}


def changed_categories(current: gpd.GeoDataFrame, desired: gpd.GeoDataFrame) -> list[str]:
    """Categories whose facility rows (or their order) differ between two tables: a row is its id, name,
    floor area (missing equals missing), source and position (rounded to 1e-9 degrees)."""
    return _changed(_facility_columns(current), _facility_columns(desired))


def _changed(a: tuple[np.ndarray, list[np.ndarray]], b: tuple[np.ndarray, list[np.ndarray]]) -> list[str]:
    """:func:`changed_categories` of two tables' :func:`_facility_columns`."""
    (cat_a, cols_a), (cat_b, cols_b) = a, b
    order_a, span_a = _by_category(cat_a)
    order_b, span_b = _by_category(cat_b)
    both = span_a.keys() & span_b.keys()
    size = {c: span_a[c][1] - span_a[c][0] for c in both}
    same_size = sorted(c for c in both if size[c] == span_b[c][1] - span_b[c][0])
    changed = (span_a.keys() ^ span_b.keys()) | (both - set(same_size))
    if same_size:  # compare those categories' rows in order, all at once
        rows_a = order_a[np.concatenate([np.arange(*span_a[c]) for c in same_size])]
        rows_b = order_b[np.concatenate([np.arange(*span_b[c]) for c in same_size])]
        differs = np.zeros(len(rows_a), dtype=bool)
        for i, (x, y) in enumerate(zip(cols_a, cols_b)):
            same = x[rows_a] == y[rows_b]
            if i == _AREA:
                same |= np.isnan(x[rows_a]) & np.isnan(y[rows_b])
            differs |= ~same
        owner = np.repeat(np.arange(len(same_size)), [size[c] for c in same_size])
        changed |= {same_size[i] for i in np.unique(owner[differs])}
    return sorted(changed)


#: name of the cache in :attr:`PlanResult.caches` of the result's facility table as compared
#: (:func:`_facility_columns`, with the table it was read from)
FACILITY_COLUMNS_CACHE = "sync_facility_columns"


def _columns_of(result: PlanResult) -> tuple[np.ndarray, list[np.ndarray]]:
    """The :func:`_facility_columns` of ``result``'s facility table (read once, then cached on it)."""
    cache = result.caches.setdefault(FACILITY_COLUMNS_CACHE, {})
    found = cache.get("")
    if found is None or found[0] is not result.data.facilities:
        found = cache[""] = (result.data.facilities, _facility_columns(result.data.facilities))
    return found[1]


def converge(result: PlanResult, desired: gpd.GeoDataFrame) -> tuple[PlanResult, list[str]]:
    """``result`` with the facility table ``desired``: the categories that differ searched again, the
    rest reused (``result`` itself when nothing differs); and the categories searched again."""
    current, wanted = _columns_of(result), _facility_columns(desired)
    changed = _changed(current, wanted)
    ids, wanted_ids = current[1][0], wanted[1][0]
    same_order = len(ids) == len(wanted_ids) and bool((ids == wanted_ids).all())
    if not changed and same_order:
        return result, []
    new = with_facilities(result, desired, changed)
    # the new table is ``desired`` with a fresh index: the same rows
    new.caches.setdefault(FACILITY_COLUMNS_CACHE, {})[""] = (new.data.facilities, wanted)
    return new, changed
