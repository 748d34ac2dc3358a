"""The service's state: the current plan result (swapped whole on every edit, so readers always see a
consistent one) and the durable edit log."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from circles._common import jsonable
from circles.errors import InputError
from circles.io.coords import normalise_crs_name, to_wgs84
from circles.pipeline import PlanResult, plan, with_facilities
from circles.routing.load import check_inside

from .errors import NotFoundError
from .settings import Settings
from .store import FacilityStore

log = logging.getLogger(__name__)

#: names of the service's caches in ``PlanResult.caches`` (derived from one result, dropped with it)
API_CACHE = "api"
MAP_CACHE = "api_maps"


class ServiceState:
    """Loaded once at start-up; ``result`` is replaced (never mutated) by edits under ``write_lock``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = FacilityStore(settings.db_path)
        self.write_lock = threading.Lock()
        base = plan(settings.plan_options())
        self.result: PlanResult = self._apply_edits(base)
        self._candidates: gpd.GeoDataFrame | None = None

    def gap_index(self) -> GapIndex:
        """Filterable columns and JSON-ready rows of the current gap list. Cached on the result it
        belongs to (``result.caches``), so an edit, which publishes a new result, starts afresh."""
        res = self.result
        cache = res.caches.setdefault(API_CACHE, {})
        idx = cache.get("gap_index")
        if idx is None:
            idx = cache.setdefault("gap_index", GapIndex(res))
        return idx

    def map_html(self, category: str | None, minutes: int) -> str:
        """The coverage map of the current result (self-contained HTML), cached on that result."""
        res = self.result
        cache = res.caches.setdefault(MAP_CACHE, {})
        html = cache.get((category, minutes))
        if html is None:
            from circles.outputs.webmap import render_map

            html = cache.setdefault((category, minutes), render_map(res, category=category, minutes=minutes))
        return html

    def site_candidates(self) -> gpd.GeoDataFrame:
        """The region's OSM candidate sites (loaded on first use; they do not change with edits)."""
        if self._candidates is None:
            from circles.planning.candidates import candidate_sites

            self._candidates = candidate_sites(self.result)
        return self._candidates

    # ---------------------------------------------------------------- start-up
    def _apply_edits(self, base: PlanResult) -> PlanResult:
        fac = base.data.facilities
        deleted = self.store.deleted()
        added = self.store.added()
        if not deleted and not added:
            return base
        changed = set(fac.loc[fac["facility_id"].isin(deleted), "category"])
        fac = fac[~fac["facility_id"].isin(deleted)]
        if added:
            rows = gpd.GeoDataFrame(
                {
                    "facility_id": [a["facility_id"] for a in added],
                    "category": [a["category"] for a in added],
                    "name": [a["name"] for a in added],
                    "floor_area_m2": [a["floor_area_m2"] for a in added],
                    "source": "user",
                },
                geometry=[Point(a["lon"], a["lat"]) for a in added],
                crs="EPSG:4326",
            )
            rows = rows[rows["category"].isin(list(base.data.catalog.keys()))]
            fac = pd.concat([fac, rows], ignore_index=True)
            changed |= set(rows["category"])
        log.info(
            "applied %d added and %d deleted facilities from %s", len(added), len(deleted), self.store.path
        )
        return with_facilities(
            base, gpd.GeoDataFrame(fac, geometry="geometry", crs="EPSG:4326"), sorted(changed)
        )

    # ---------------------------------------------------------------- edits
    def add_facility(
        self, category: str, lon: float, lat: float, crs: str, name: str | None, floor_area_m2: float | None
    ) -> tuple[dict, int]:
        """Validate, recompute the category, store durably, then publish. Returns the stored facility
        and how many communities' coverage changed."""
        res = self.result
        res.data.catalog.get(category)
        key = normalise_crs_name(crs)
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise InputError("lon and lat must be finite numbers")
        x, y = to_wgs84(np.array([lon]), np.array([lat]), key)
        wlon, wlat = float(x[0]), float(y[0])
        check_inside(wlon, wlat, res.data.region.bbox, f"region {res.data.region.key}")
        graph = res.data.graphs["walk"]
        graph.snap(
            res.data.net.project(wlon, wlat), max_snap_m=self.settings.max_snap_m
        )  # SnapError: too far
        fid = f"user:{uuid.uuid4().hex[:12]}"
        record = {
            "facility_id": fid,
            "category": category,
            "name": (name or "").strip(),
            "floor_area_m2": None if floor_area_m2 is None else float(floor_area_m2),
            "lon": wlon,
            "lat": wlat,
            "source": "user",
        }
        with self.write_lock:
            res = self.result
            row = gpd.GeoDataFrame(
                {k: [record[k]] for k in ("facility_id", "category", "name", "floor_area_m2", "source")},
                geometry=[Point(wlon, wlat)],
                crs="EPSG:4326",
            )
            fac = gpd.GeoDataFrame(
                pd.concat([res.data.facilities, row], ignore_index=True), geometry="geometry", crs="EPSG:4326"
            )
            new = with_facilities(res, fac, [category])
            with self.store.transaction() as con:
                con.execute(
                    "INSERT INTO added_facility "
                    "(facility_id, category, name, floor_area_m2, lon, lat, crs_in, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fid,
                        category,
                        record["name"],
                        record["floor_area_m2"],
                        wlon,
                        wlat,
                        key,
                        self.store.now(),
                    ),
                )
            self.result = new
        return record, _changed(res, new, category)

    def delete_facility(self, facility_id: str) -> int:
        with self.write_lock:
            res = self.result
            fac = res.data.facilities
            hit = fac["facility_id"] == facility_id
            if not hit.any():
                raise NotFoundError(f"no facility with id {facility_id!r}")
            cats = sorted(set(fac.loc[hit, "category"]))
            user = (fac.loc[hit, "source"] == "user").all()
            new = with_facilities(res, fac[~hit], cats)
            with self.store.transaction() as con:
                if user:
                    con.execute("DELETE FROM added_facility WHERE facility_id = ?", (facility_id,))
                else:
                    con.execute(
                        "INSERT OR IGNORE INTO deleted_facility (facility_id, deleted_at) VALUES (?, ?)",
                        (facility_id, self.store.now()),
                    )
            self.result = new
        return sum(_changed(res, new, c) for c in cats)


def _changed(old: PlanResult, new: PlanResult, category: str) -> int:
    a = old.coverage[old.coverage["category"] == category].set_index("community_row")
    b = new.coverage[new.coverage["category"] == category].set_index("community_row")
    cols = ["covered_share", "share_5", "share_10", "share_15", "nearest_time_s"]
    a, b = a[cols].reindex(b.index), b[cols]
    diff = ~np.isclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True)
    return int(diff.any(axis=1).sum())


class GapIndex:
    """The gap list of one published result as numpy columns (for filters) and JSON-ready dicts (for
    pages), so a query costs a mask and a slice, not a DataFrame round trip."""

    def __init__(self, result: PlanResult):
        g = result.gaps
        self.result = result
        self.category = g["category"].to_numpy().astype(str)
        self.level_min = g["level_min"].to_numpy()
        self.district = g["district"].fillna("").to_numpy().astype(str)
        self.kind = g["kind"].to_numpy().astype(str)
        self.uncovered_residents = g["uncovered_residents"].fillna(0).to_numpy(dtype=float)
        self.uncovered_area_m2 = g["uncovered_area_m2"].fillna(0).to_numpy(dtype=float)
        self.records: list[dict[str, Any]] = [jsonable(row) for row in g.to_dict(orient="records")]

    def matching(
        self,
        *,
        category: str | None = None,
        level: int | None = None,
        district: str | None = None,
        kind: str | None = None,
        min_residents: float | None = None,
        min_area_m2: float | None = None,
    ) -> np.ndarray:
        """Row numbers (in severity order) of the gaps passing every given filter. ``level`` is a service
        circle in minutes (5, 10 or 15); ``min_residents`` needs a population-weighted plan. An unknown
        category or a filter the plan cannot answer is a domain error (422)."""
        res = self.result
        mask = np.ones(len(self.records), dtype=bool)
        if category is not None:
            res.data.catalog.get(category)
            mask &= self.category == category
        if level is not None:
            if level not in (5, 10, 15):
                raise InputError(f"level must be 5, 10 or 15 (minutes), got {level}")
            mask &= self.level_min == level
        if district is not None:
            mask &= self.district == district
        if kind is not None:
            mask &= self.kind == kind
        if min_residents is not None:
            if res.data.weight_kind == "area":
                raise InputError(
                    "min_residents needs population data; this region is area-weighted: use min_area_m2"
                )
            mask &= self.uncovered_residents >= min_residents
        if min_area_m2 is not None:
            mask &= self.uncovered_area_m2 >= min_area_m2
        return np.flatnonzero(mask)
