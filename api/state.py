"""The service's state: the current plan result (swapped whole on every edit, so readers always see a
consistent one) and the durable edit log (facility edits, bulk imports, the community layer in use)."""

from __future__ import annotations

import dataclasses
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
from circles.inputs import PlanOptions
from circles.io.coords import normalise_crs_name, to_wgs84
from circles.io.crs_inputs import CrsReferenceSource
from circles.io.file_spec import FileSpec
from circles.pipeline import PlanResult, plan, with_facilities
from circles.planning.queries import district_names, gaps_at, with_admin_columns
from circles.routing.load import check_inside

from .errors import ConflictError, NotFoundError
from .settings import Settings
from .store import FacilityStore

log = logging.getLogger(__name__)

#: names of the service's caches in ``PlanResult.caches`` (derived from one result, dropped with it)
API_CACHE = "api"
MAP_CACHE = "api_maps"
#: gap lists judged within other minutes than the categories' own, by minutes (at most MAX_MINUTE_INDEXES)
MINUTES_CACHE = "api_minutes"
MAX_MINUTE_INDEXES = 16


class ServiceState:
    """Loaded once at start-up; ``result`` is replaced (never mutated) by edits under ``write_lock``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = FacilityStore(settings.db_path)
        self.write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self.result: PlanResult = self._apply_edits(plan(self.plan_options()))
        self._candidates: gpd.GeoDataFrame | None = None
        self._crs_source: CrsReferenceSource | None = None

    def plan_options(self, communities: dict[str, Any] | None = None) -> PlanOptions:
        """What the service plans with: the settings' inputs, with the community file of ``communities``
        (an import record) or else of the last applied community import. A community file applied
        despite a refused coordinate check is planned without the check (as ``--no-crs-check``)."""
        opts = self.settings.plan_options()
        layer = communities if communities is not None else self.store.active_communities()
        if layer is None:
            return opts
        path = self.settings.state_dir / layer["stored_path"]
        return dataclasses.replace(
            opts,
            communities=FileSpec(path, layer["crs"], layer["part"]),
            crs_check=opts.crs_check and not layer["forced"],
        )

    def category_key(self, name: str) -> str:
        """The key of the category ``name`` names (key, Chinese or English name, alias); an
        :class:`~circles.errors.UnknownCategoryError` (422) otherwise."""
        return self.result.data.catalog.resolve(name).key

    def crs_source(self) -> CrsReferenceSource:
        """The map uploaded files' coordinates are checked against (the region's streets, buildings,
        residential areas and OSM facilities; built once)."""
        with self._cache_lock:
            if self._crs_source is None:
                data = self.result.data
                source = CrsReferenceSource(data.region, data.net, data.graphs["walk"])
                fac = data.facilities
                source.osm_facilities = fac[fac["source"] == "osm"].reset_index(drop=True)
                self._crs_source = source
            return self._crs_source

    def gap_index(self, minutes: float | None = None) -> GapIndex:
        """Filterable columns and JSON-ready rows of the current gap list (coverage judged within
        ``minutes``; None: each category's own threshold). Cached on the result it belongs to
        (``result.caches``), so an edit, which publishes a new result, starts afresh."""
        res = self.result
        if minutes is None:
            cache = res.caches.setdefault(API_CACHE, {})
            idx = cache.get("gap_index")
            if idx is None:
                idx = cache.setdefault("gap_index", GapIndex(res, res.gaps))
            return idx
        by_minutes = res.caches.setdefault(MINUTES_CACHE, {})
        idx = by_minutes.get(minutes)
        if idx is None:
            idx = GapIndex(res, gaps_at(res, minutes))
            with self._cache_lock:
                idx = by_minutes.setdefault(minutes, idx)
                while len(by_minutes) > MAX_MINUTE_INDEXES:
                    by_minutes.pop(next(iter(by_minutes)))
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
        category = res.data.catalog.resolve(category).key
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
                self.store.insert_added(
                    con,
                    {**record, "crs_in": key, "created_at": self.store.now(), "import_id": None},
                )
            self.result = new
        return record, changed_communities(res, new, category)

    def add_facilities(
        self, rows: gpd.GeoDataFrame, *, import_id: str, crs_in: str, forced: bool
    ) -> tuple[PlanResult, PlanResult, str]:
        """Add ``rows`` (WGS84 points with ``facility_id``, ``category``, ``name``, ``floor_area_m2``) as
        user facilities of the import ``import_id``: one transaction inserts them all and stamps the
        import applied; only their categories are recomputed. A :class:`ConflictError` (nothing
        changed) when the import was applied already or an id is taken. Returns the results before and
        after and the time applied."""
        with self.write_lock:
            self.check_not_applied(import_id)
            res = self.result
            taken = set(res.data.facilities["facility_id"].astype(str)) & set(rows["facility_id"].astype(str))
            if taken:
                raise ConflictError(
                    f"facility ids taken since the dry run: {', '.join(sorted(taken)[:10])}; "
                    "upload the file again for a new report",
                    facility_ids=sorted(taken)[:100],
                )
            user = gpd.GeoDataFrame(
                {
                    "facility_id": rows["facility_id"].astype(str).to_numpy(),
                    "category": rows["category"].astype(str).to_numpy(),
                    "name": rows["name"].fillna("").astype(str).to_numpy(),
                    "floor_area_m2": pd.to_numeric(rows["floor_area_m2"], errors="coerce").to_numpy(),
                    "source": "user",
                },
                geometry=rows.geometry.to_numpy(),
                crs="EPSG:4326",
            )
            fac = gpd.GeoDataFrame(
                pd.concat([res.data.facilities, user], ignore_index=True),
                geometry="geometry",
                crs="EPSG:4326",
            )
            new = with_facilities(res, fac, sorted(set(user["category"])))
            at = self.store.now()
            with self.store.transaction() as con:
                if not self.store.mark_applied(con, import_id, forced, at):
                    raise ConflictError(f"import {import_id} was applied already")
                for r in user.itertuples():
                    self.store.insert_added(
                        con,
                        {
                            "facility_id": r.facility_id,
                            "category": r.category,
                            "name": r.name,
                            "floor_area_m2": jsonable(r.floor_area_m2),
                            "lon": float(r.geometry.x),
                            "lat": float(r.geometry.y),
                            "crs_in": crs_in,
                            "created_at": at,
                            "import_id": import_id,
                        },
                    )
            self.result = new
        return res, new, at

    def replace_communities(
        self, record: dict[str, Any], *, forced: bool
    ) -> tuple[PlanResult, PlanResult, str]:
        """Plan again with the community file of the import ``record`` (the facility edits re-applied),
        make it the layer in use durably (one transaction with stamping the import applied), publish.
        Returns the results before and after and the time applied."""
        with self.write_lock:
            self.check_not_applied(record["import_id"])
            base = plan(self.plan_options({**record, "forced": forced}))
            new = self._apply_edits(base)
            at = self.store.now()
            with self.store.transaction() as con:
                if not self.store.mark_applied(con, record["import_id"], forced, at):
                    raise ConflictError(f"import {record['import_id']} was applied already")
                self.store.activate_communities(con, record["import_id"], at)
            old, self.result = self.result, new
            self._candidates = None
        log.info(
            "community layer replaced by import %s (%d communities)",
            record["import_id"],
            len(new.data.communities),
        )
        return old, new, at

    def check_not_applied(self, import_id: str) -> None:
        """A :class:`ConflictError` (409) when the import was applied already."""
        record = self.store.get_import(import_id)
        if record is not None and record["applied_at"]:
            raise ConflictError(
                f"import {import_id} was applied at {record['applied_at']}; applying it again changes "
                "nothing",
                applied_at=record["applied_at"],
            )

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
        return sum(changed_communities(res, new, c) for c in cats)


def changed_communities(old: PlanResult, new: PlanResult, category: str) -> int:
    """How many communities' coverage of ``category`` differs between two results of the same
    communities."""
    a = old.coverage[old.coverage["category"] == category].set_index("community_row")
    b = new.coverage[new.coverage["category"] == category].set_index("community_row")
    cols = ["covered_share", "share_5", "share_10", "share_15", "nearest_time_s"]
    a, b = a[cols].reindex(b.index), b[cols]
    diff = ~np.isclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True)
    return int(diff.any(axis=1).sum())


class GapIndex:
    """A gap list of one published result as numpy columns (for filters) and JSON-ready dicts (for
    pages), so a query costs a mask and a slice, not a DataFrame round trip. ``gaps``: the plan's list
    or one judged within other minutes (:func:`circles.planning.queries.gaps_at`); rows carry their
    community's 社区 and 街道 where known."""

    def __init__(self, result: PlanResult, gaps: pd.DataFrame):
        g = with_admin_columns(result, gaps)
        self.result = result
        self.gaps = g
        self.category = g["category"].to_numpy().astype(str)
        self.level_min = g["level_min"].to_numpy()
        self.district = district_names(g["district"].fillna("")).astype(str)
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
        """Row numbers (in severity order) of the gaps passing every given filter. ``category`` is a
        key, ``district`` an official name (see :func:`circles.planning.queries.resolve_district_in`),
        ``level`` a service circle in minutes (5, 10 or 15); ``min_residents`` needs a
        population-weighted plan. A filter the plan cannot answer is a domain error (422)."""
        res = self.result
        mask = np.ones(len(self.records), dtype=bool)
        if category is not None:
            mask &= self.category == res.data.catalog.get(category).key
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
