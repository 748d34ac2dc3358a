"""Which categories an edit changed (:func:`api.sync.changed_categories`, compared column by column)
is what comparing every facility row as a tuple, category by category, says; and :func:`api.sync.converge`
re-plans a chain of store snapshots to the tables a full plan gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from api.store import Snapshot
from api.sync import changed_categories, converge, desired_facilities
from circles.pipeline import PlanOptions, run_plan


def tuples_by_category(fac: gpd.GeoDataFrame) -> dict[str, list[tuple[Any, ...]]]:
    """The former comparison: one tuple per facility row (id, name, area, source, lon, lat), by category."""
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


def reference(current: gpd.GeoDataFrame, desired: gpd.GeoDataFrame) -> list[str]:
    a, b = tuples_by_category(current), tuples_by_category(desired)
    return [c for c in sorted(set(a) | set(b)) if a.get(c, []) != b.get(c, [])]


def table(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    cats = np.array(["canteen", "park", "clinic", "toilet"])
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i}" for i in range(n)],
            "category": cats[rng.integers(0, len(cats), n)],
            "name": [None if i % 7 == 0 else f"名{i}" for i in range(n)],
            "floor_area_m2": np.where(rng.random(n) < 0.5, np.nan, rng.uniform(10, 90, n).round(1)),
            "source": ["osm" if i % 2 else "user" for i in range(n)],
        },
        geometry=[Point(104 + rng.random() / 10, 30.6 + rng.random() / 10) for _ in range(n)],
        crs="EPSG:4326",
    )


def edited(rng: np.random.Generator, fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``fac`` after one random edit (or none)."""
    out = fac.copy()
    i = int(rng.integers(0, len(out)))
    kind = int(rng.integers(0, 9))
    if kind == 0:
        return out.drop(index=out.index[i]).reset_index(drop=True)
    if kind == 1:
        out.loc[out.index[i], "geometry"] = Point(104.2, 30.7)
    elif kind == 2:
        out.loc[out.index[i], "geometry"] = Point(out.geometry.iloc[i].x + 1e-11, out.geometry.iloc[i].y)
    elif kind == 3:
        out.loc[out.index[i], "name"] = None if out["name"].iloc[i] else "新名"
    elif kind == 4:
        area = out["floor_area_m2"].iloc[i]
        out.loc[out.index[i], "floor_area_m2"] = 5.0 if np.isnan(area) else np.nan
    elif kind == 5:
        out.loc[out.index[i], "category"] = "park" if out["category"].iloc[i] != "park" else "clinic"
    elif kind == 6:  # two rows swap places
        j = int(rng.integers(0, len(out)))
        order = list(range(len(out)))
        order[i], order[j] = order[j], order[i]
        return out.iloc[order].reset_index(drop=True)
    elif kind == 7:
        row = out.iloc[[i]].assign(facility_id="new")
        return gpd.GeoDataFrame(pd.concat([out, row], ignore_index=True), geometry="geometry", crs=out.crs)
    return out


def test_changed_categories_is_the_row_by_row_comparison():
    rng = np.random.default_rng(7)
    for _ in range(300):
        fac = table(rng, int(rng.integers(1, 25)))
        other = edited(rng, fac)
        assert changed_categories(fac, other) == reference(fac, other)
        assert changed_categories(other, fac) == reference(other, fac)
    empty = table(rng, 3).iloc[:0]
    fac = table(rng, 5)
    assert changed_categories(empty, fac) == reference(empty, fac)
    assert changed_categories(fac, fac) == []


def test_converge_replays_snapshots_as_a_full_plan(default_plan_result):
    base = default_plan_result
    fac = base.data.facilities
    categories = set(base.data.catalog.keys())
    at = fac[fac["category"] == "canteen"].geometry.iloc[0]

    def user(i: int, category: str, dx: float) -> dict[str, Any]:
        return {
            "facility_id": f"u{i}",
            "category": category,
            "name": None,
            "floor_area_m2": None,
            "lon": at.x + dx,
            "lat": at.y - dx,
        }

    first_park = str(fac.loc[fac["category"] == "park", "facility_id"].iloc[0])
    snaps = [
        Snapshot(1, [user(1, "canteen", 0.004)], frozenset(), None),
        Snapshot(2, [user(1, "canteen", 0.004), user(2, "park", -0.003)], frozenset({first_park}), None),
        Snapshot(3, [user(2, "park", -0.003)], frozenset({first_park}), None),
        Snapshot(4, [user(2, "park", -0.003)], frozenset({first_park}), None),  # nothing new
    ]
    res = base
    for snap in snaps:
        desired = desired_facilities(fac, snap, categories)
        new, changed = converge(res, desired)
        if snap.revision == 4:
            assert new is res and changed == []
        full = run_plan(
            dataclasses.replace(base.data, facilities=desired.reset_index(drop=True)), PlanOptions()
        )
        pd.testing.assert_frame_equal(new.coverage, full.coverage, check_dtype=True)
        pd.testing.assert_frame_equal(new.gaps, full.gaps, check_dtype=True)
        res = new
