"""The service's state in one worker process: the published plan (swapped whole on every change, so
readers always see a consistent one) derived from the durable store (:mod:`api.store`), and the edits.

Several processes may share one store; :mod:`api.sync` describes how each keeps up. Every edit here
runs as :meth:`ServiceState._commit`: catch up, then one SQLite transaction that validates against the
committed state, writes the rows and the audit entry (and the first answer of an idempotent request),
computes the new plan, commits, and publishes."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from circles._common import jsonable
from circles.errors import InputError
from circles.inputs import PlanOptions
from circles.io.coords import normalise_crs_name, to_wgs84
from circles.io.crs_inputs import CrsReferenceSource
from circles.io.file_spec import FileSpec
from circles.pipeline import PlanResult, plan
from circles.routing.load import check_inside

from .errors import ConflictError, NotFoundError
from .gap_index import API_CACHE, MAX_MINUTE_INDEXES, MINUTES_CACHE, GapIndex, cached_gap_index, gap_index_of
from .settings import Settings
from .store import Actor, FacilityStore
from .sync import converge, desired_facilities
from .time_limit import begin_commit, check_deadline

log = logging.getLogger(__name__)

__all__ = [
    "API_CACHE",
    "MAX_MINUTE_INDEXES",
    "MINUTES_CACHE",
    "Answer",
    "GapIndex",
    "Idempotency",
    "ServiceState",
    "changed_communities",
    "facility_view",
]

#: names of the service's caches in ``PlanResult.caches`` (derived from one result, dropped with it;
#: the gap indexes' API_CACHE, MINUTES_CACHE and MAX_MINUTE_INDEXES live in :mod:`api.gap_index`)
MAP_CACHE = "api_maps"
SITES_CACHE = "api_sites"
CANDIDATES_CACHE = "api_candidates"
MAX_SITE_CHOICES = 32


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Answer:
    """What a write answers: status, JSON body, and whether it is the stored answer of a retry."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Published:
    """The plan a worker answers from, the store revision it reflects, and the plan of its community
    layer without edits (``base``; ``layer_id``: the community import in use, None: the configured)."""

    result: PlanResult
    revision: int
    base: PlanResult
    layer_id: str | None


#: (connection, plan before, time) -> None: validates against the plan and writes rows (in the transaction)
Edit = Callable[[sqlite3.Connection, PlanResult, str], None]
#: (plan before, plan after, time) -> the JSON answer
Answering = Callable[[PlanResult, PlanResult, str], dict[str, Any]]


def facility_view(row: Any) -> dict[str, Any]:
    """A facility as the API shows it (WGS84 degrees rounded to 1e-7) from a table row (itertuples)."""
    return {
        "facility_id": str(row.facility_id),
        "category": str(row.category),
        "name": "" if pd.isna(row.name) else str(row.name),
        "floor_area_m2": jsonable(row.floor_area_m2),
        "lon": round(float(row.geometry.x), 7),
        "lat": round(float(row.geometry.y), 7),
        "source": str(row.source),
    }


class ServiceState:
    """Loaded once at start-up (``base``: the unedited plan, when the caller has it). The published
    plan is replaced whole (never mutated), and only by a newer revision."""

    def __init__(self, settings: Settings, base: PlanResult | None = None):
        self.settings = settings
        self.store = FacilityStore(settings.db_path)
        self._refresh_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._export_lock = threading.Lock()
        snap = self.store.snapshot()
        first = base if base is not None else plan(self.plan_options(snap.layer))
        self._published = Published(first, -1, first, snap.layer_id)
        self._crs_source: CrsReferenceSource | None = None
        self.refresh()

    @property
    def result(self) -> PlanResult:
        return self._published.result

    @property
    def revision(self) -> int:
        """The store revision the published plan reflects."""
        return self._published.revision

    def current(self) -> Published:
        """The published plan and its revision, read together."""
        return self._published

    def close(self) -> None:
        self.store.close()

    def plan_options(self, layer: dict[str, Any] | None) -> PlanOptions:
        """What the service plans with: the settings' inputs, with the community file of ``layer`` (an
        import record; None: the configured layer). A community file applied despite a refused
        coordinate check is planned without the check (as ``--no-crs-check``)."""
        opts = self.settings.plan_options()
        if layer is None:
            return opts
        path = self.settings.state_dir / layer["stored_path"]
        if not path.is_file():
            raise ConflictError(
                f"the community layer of import {layer['import_id']} is no longer stored; upload it again"
            )
        return dataclasses.replace(
            opts,
            communities=FileSpec(path, layer["crs"], layer["part"]),
            crs_check=opts.crs_check and not layer["forced"],
        )

    # ---------------------------------------------------------------- keeping up with the store
    def is_current(self) -> bool:
        """Whether the published plan reflects the store's last edit (one indexed read)."""
        return self.store.revision() == self.revision

    def refresh(self) -> Published:
        """Catch up with edits other processes committed (no-op when current). One refresh at a time;
        it never waits for another process's transaction (readers are not blocked by writers)."""
        with self._refresh_lock:
            return self._sync(None)

    def _sync(self, con: sqlite3.Connection | None) -> Published:
        """Publish the plan of the committed edits (``con``: read inside a write transaction)."""
        pub = self._published
        if self.store.revision(con) <= pub.revision:
            return pub
        t0, cpu0 = time.perf_counter(), time.thread_time()
        snap = self.store.snapshot(con)
        if snap.layer_id != pub.layer_id:
            base = start = plan(self.plan_options(snap.layer))
            log.info("community layer changed to %s: planned again", snap.layer_id or "the configured one")
        else:
            base, start = pub.base, pub.result
        new, changed = converge(start, desired_facilities(base.data.facilities, snap, _categories(base)))
        if new is not start:
            # the gap index is ready before the plan is published, so no reader of it waits for it
            gap_index_of(new, derived_from=(start, changed))
        published = self._publish(Published(new, snap.revision, base, snap.layer_id))
        if new is not start:
            log.info(
                "caught up with the store: revision %d -> %d (%s) in %.0f ms, %.0f ms of CPU",
                pub.revision,
                snap.revision,
                ", ".join(changed) or "order",
                (time.perf_counter() - t0) * 1000,
                (time.thread_time() - cpu0) * 1000,
            )
        return published

    def _publish(self, new: Published) -> Published:
        """Make ``new`` the published plan unless a newer one is; returns the one published."""
        with self._publish_lock:
            if new.revision > self._published.revision:
                self._published = new
            return self._published

    # ---------------------------------------------------------------- derived pages
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
                fac = self._published.base.data.facilities
                source.osm_facilities = fac[fac["source"] == "osm"].reset_index(drop=True)
                self._crs_source = source
            return self._crs_source

    def cached_gap_index(self, minutes: float | None = None, walk_m: float | None = None) -> GapIndex | None:
        """The gap index of the current result if it is built already (no work), else None."""
        return cached_gap_index(self.result, minutes, walk_m)

    def gap_index(self, minutes: float | None = None, walk_m: float | None = None) -> GapIndex:
        """Filterable columns and JSON-ready rows of the current gap list (coverage judged within
        ``minutes``, or within ``walk_m`` metres of network walking distance; both None: each category's
        own threshold). Built once per result and threshold (concurrent callers wait for that build) and
        cached on it, so an edit, which publishes a new result, starts afresh."""
        return gap_index_of(self.result, minutes, walk_m)

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
        """The region's OSM candidate sites (loaded on first use; they do not change with facility
        edits: cached on the unedited plan of the community layer in use)."""
        pub = self._published
        cache = pub.base.caches.setdefault(CANDIDATES_CACHE, {})
        found = cache.get("candidates")
        if found is None:
            from circles.planning.candidates import candidate_sites

            found = cache.setdefault("candidates", candidate_sites(pub.result))
        return found

    def site_choice(self, res: PlanResult, category: str, k: int) -> Any:
        """The k new sites for ``category`` on ``res`` (a :class:`~circles.planning.sites.SiteChoice`),
        cached on that result (the same question answers the same sites)."""
        from circles.planning.sites import choose_sites

        cache = res.caches.setdefault(SITES_CACHE, {})
        choice = cache.get((category, k))
        if choice is None:
            choice = choose_sites(
                res, category, k, self.site_candidates(), time_limit_s=self.settings.sites_time_limit_s
            )
            with self._cache_lock:
                choice = cache.setdefault((category, k), choice)
                while len(cache) > MAX_SITE_CHOICES:
                    cache.pop(next(iter(cache)))
        return choice

    @property
    def export_lock(self) -> threading.Lock:
        """Held while an export file is written (one at a time per process)."""
        return self._export_lock

    # ---------------------------------------------------------------- the write path
    def replay(self, idem: Idempotency | None, con: sqlite3.Connection | None = None) -> Answer | None:
        """The stored answer of an earlier request with the same ``Idempotency-Key``, or None; a 422
        when the key came with a different request."""
        if idem is None:
            return None
        prior = self.store.first_answer(idem.key, con)
        if prior is None:
            return None
        fingerprint, status, body = prior
        if fingerprint != idem.fingerprint:
            raise InputError(
                f"Idempotency-Key {idem.key!r} was first used with a different request; use a new key"
            )
        return Answer(status, body, replayed=True)

    def _commit(
        self,
        edit: Edit,
        answer: Answering,
        *,
        idem: Idempotency | None,
        status: int = 200,
        base: PlanResult | None = None,
    ) -> Answer:
        """Run one edit: catch up, then in one transaction ``edit`` (validate, write rows and the audit
        entry), the new plan (``base``: a new community layer's plan to start from), ``answer`` (kept
        for retries when ``idem``); publish after the commit. Raising anywhere changes nothing; past the
        request's time limit (:mod:`api.time_limit`) the transaction is rolled back, never half applied."""
        self.refresh()  # the heavy catching up, outside SQLite's write lock
        check_deadline()
        held = False
        try:
            with self.store.transaction() as con:  # one writer at a time, across processes
                # what others committed meanwhile (a new layer's plan starts from its own base); under the
                # refresh lock, so this process's readers catching up with the same edit wait for this
                # one plan instead of computing it too
                if base is None:
                    with self._refresh_lock:
                        pub = self._sync(con)
                else:
                    pub = self._published
                prior = self.replay(idem, con)
                if prior is not None:
                    return prior
                old, at = pub.result, self.store.now()
                edit(con, old, at)
                snap = self.store.snapshot(con)
                start = base if base is not None else pub.base
                desired = desired_facilities(start.data.facilities, snap, _categories(start))
                new, changed = converge(base if base is not None else old, desired)
                body = answer(old, new, at)
                if base is None:
                    # the readers' first question after an edit, answered from an index made here (cheap:
                    # it reuses the rows of the categories the edit did not change), before publishing
                    gap_index_of(new, derived_from=(old, changed))
                if idem is not None:
                    self.store.remember_answer(con, idem.key, idem.fingerprint, status, body)
                begin_commit()  # past the request's time limit: raises, and the transaction rolls back
                # from the commit to the publish, a reader of this process that sees the new revision
                # waits for this plan instead of computing it again (refresh takes this lock)
                self._refresh_lock.acquire()
                held = True
            if base is not None:  # a new community layer: its whole gap index, outside the write lock
                gap_index_of(new)
            self._publish(Published(new, snap.revision, start, snap.layer_id))
        finally:
            if held:
                self._refresh_lock.release()
        return Answer(status, body)

    # ---------------------------------------------------------------- edits
    def add_facility(
        self,
        category: str,
        lon: float,
        lat: float,
        crs: str,
        name: str | None,
        floor_area_m2: float | None,
        *,
        actor: Actor,
        idem: Idempotency | None = None,
    ) -> Answer:
        """Validate, store durably with an audit entry, recompute the category, publish. Answers the
        stored facility and how many communities' coverage changed (201)."""
        prior = self.replay(idem)
        if prior is not None:
            return prior
        res = self.result
        category = res.data.catalog.resolve(category).key
        key = normalise_crs_name(crs)
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise InputError("lon and lat must be finite numbers")
        x, y = to_wgs84(np.array([lon]), np.array([lat]), key)
        wlon, wlat = float(x[0]), float(y[0])
        check_inside(wlon, wlat, res.data.region.bbox, f"region {res.data.region.key}")
        # SnapError (422) when no street is near
        res.data.graphs["walk"].snap(res.data.net.project(wlon, wlat), max_snap_m=self.settings.max_snap_m)
        fid = f"user:{uuid.uuid4().hex[:12]}"
        record: dict[str, Any] = {
            "facility_id": fid,
            "category": category,
            "name": (name or "").strip(),
            "floor_area_m2": None if floor_area_m2 is None else float(floor_area_m2),
            "lon": wlon,
            "lat": wlat,
            "source": "user",
        }

        def edit(con: sqlite3.Connection, old: PlanResult, at: str) -> None:
            self.store.insert_added(con, {**record, "crs_in": key, "created_at": at, "import_id": None})
            self.store.log_edit(con, actor, "add", fid, None, record, at)

        def answer(old: PlanResult, new: PlanResult, at: str) -> dict[str, Any]:
            shown = {**record, "lon": round(wlon, 7), "lat": round(wlat, 7)}
            return {"facility": shown, "communities_affected": changed_communities(old, new, category)}

        return self._commit(edit, answer, idem=idem, status=201)

    def delete_facility(self, facility_id: str, *, actor: Actor) -> Answer:
        """Delete a user facility (kept, restorable) or hide a base one (restorable); 404 when there is
        no such facility."""
        cats: list[str] = []

        def edit(con: sqlite3.Connection, old: PlanResult, at: str) -> None:
            fac = old.data.facilities
            hit = fac[fac["facility_id"] == facility_id]
            if not len(hit):
                raise NotFoundError(f"no facility with id {facility_id!r}")
            cats[:] = sorted(set(hit["category"]))
            before = facility_view(next(hit.itertuples()))
            if before["source"] == "user":
                self.store.remove_added(con, facility_id)
            else:
                self.store.hide_base(con, facility_id)
            self.store.log_edit(con, actor, "delete", facility_id, before, None, at)

        def answer(old: PlanResult, new: PlanResult, at: str) -> dict[str, Any]:
            n = sum(changed_communities(old, new, c) for c in cats)
            return {"facility_id": facility_id, "communities_affected": n}

        return self._commit(edit, answer, idem=None)

    def restore_facility(self, facility_id: str, *, actor: Actor) -> Answer:
        """Bring back a deleted user facility or a hidden base one; 404 when nothing of that id was
        deleted, 409 when the id is in use again."""
        restored: dict[str, Any] = {}

        def edit(con: sqlite3.Connection, old: PlanResult, at: str) -> None:
            if (old.data.facilities["facility_id"] == facility_id).any():
                raise ConflictError(f"facility {facility_id!r} is in the register; nothing to restore")
            base = self._published.base.data.facilities
            hit = base[base["facility_id"] == facility_id]
            if len(hit) and self.store.unhide_base(con, facility_id):
                restored.update(facility_view(next(hit.itertuples())))
            else:
                record = self.store.removed(facility_id, con)
                if record is None:
                    raise NotFoundError(f"no deleted facility with id {facility_id!r}")
                self.store.insert_added(con, record)
                restored.update({k: record[k] for k in ("facility_id", "category", "name", "floor_area_m2")})
                restored.update(lon=round(record["lon"], 7), lat=round(record["lat"], 7), source="user")
            self.store.log_edit(con, actor, "restore", facility_id, None, restored, at)

        def answer(old: PlanResult, new: PlanResult, at: str) -> dict[str, Any]:
            n = changed_communities(old, new, restored["category"])
            return {"facility": restored, "communities_affected": n}

        return self._commit(edit, answer, idem=None)

    def deleted_facilities(self) -> list[dict[str, Any]]:
        """Deleted user facilities and hidden base ones, newest first, each with ``deleted_at``."""
        hidden, removed = self.store.deleted_list()
        base = self._published.base.data.facilities
        by_id = {str(r.facility_id): r for r in base.itertuples()}
        rows = [
            {**facility_view(by_id[h["facility_id"]]), "deleted_at": h["deleted_at"]}
            for h in hidden
            if h["facility_id"] in by_id
        ]
        rows += [
            {
                **{k: r[k] for k in ("facility_id", "category", "name", "floor_area_m2", "deleted_at")},
                "lon": round(r["lon"], 7),
                "lat": round(r["lat"], 7),
                "source": "user",
            }
            for r in removed
        ]
        return sorted(rows, key=lambda r: r["deleted_at"], reverse=True)

    def add_facilities(
        self,
        rows: gpd.GeoDataFrame,
        *,
        import_id: str,
        crs_in: str,
        forced: bool,
        actor: Actor,
        answer: Answering,
        idem: Idempotency | None = None,
    ) -> Answer:
        """Add ``rows`` (WGS84 points with ``facility_id``, ``category``, ``name``, ``floor_area_m2``) as
        user facilities of the import ``import_id``: one transaction inserts them all and stamps the
        import applied; only their categories are recomputed. A :class:`ConflictError` (nothing
        changed) when the import was applied already or an id is taken."""
        ids = rows["facility_id"].astype(str).to_numpy()
        areas = pd.to_numeric(rows["floor_area_m2"], errors="coerce").to_numpy()
        names = rows["name"].fillna("").astype(str).to_numpy()
        cats = rows["category"].astype(str).to_numpy()

        def edit(con: sqlite3.Connection, old: PlanResult, at: str) -> None:
            self.check_not_applied(import_id, con)
            taken = set(old.data.facilities["facility_id"].astype(str)) & set(ids)
            if taken:
                raise ConflictError(
                    f"facility ids taken since the dry run: {', '.join(sorted(taken)[:10])}; "
                    "upload the file again for a new report",
                    facility_ids=sorted(taken)[:100],
                )
            if not self.store.mark_applied(con, import_id, forced, at):
                raise ConflictError(f"import {import_id} was applied already")
            for i, geom in enumerate(rows.geometry):
                self.store.insert_added(
                    con,
                    {
                        "facility_id": ids[i],
                        "category": cats[i],
                        "name": names[i],
                        "floor_area_m2": jsonable(areas[i]),
                        "lon": float(geom.x),
                        "lat": float(geom.y),
                        "crs_in": crs_in,
                        "created_at": at,
                        "import_id": import_id,
                    },
                )
            after = {"facilities_added": len(ids), "facility_ids": [str(i) for i in ids], "forced": forced}
            self.store.log_edit(con, actor, "import", import_id, None, after, at)

        return self._commit(edit, answer, idem=idem)

    def replace_communities(
        self,
        record: dict[str, Any],
        *,
        forced: bool,
        actor: Actor,
        answer: Answering,
        idem: Idempotency | None = None,
    ) -> Answer:
        """Plan again with the community file of the import ``record`` (the facility edits re-applied),
        make it the layer in use durably (one transaction with stamping the import applied), publish."""
        self.refresh()
        base = plan(self.plan_options({**record, "forced": forced}))
        check_deadline()
        before = self._published.layer_id

        def edit(con: sqlite3.Connection, old: PlanResult, at: str) -> None:
            self.check_not_applied(record["import_id"], con)
            if not self.store.mark_applied(con, record["import_id"], forced, at):
                raise ConflictError(f"import {record['import_id']} was applied already")
            self.store.activate_communities(con, record["import_id"], at)
            layer = {"import_id": record["import_id"], "communities": len(base.data.communities)}
            self.store.log_edit(
                con, actor, "communities", record["import_id"], {"import_id": before}, layer, at
            )

        out = self._commit(edit, answer, idem=idem, base=base)
        log.info(
            "community layer replaced by import %s (%d communities)",
            record["import_id"],
            len(base.data.communities),
        )
        return out

    def check_not_applied(self, import_id: str, con: sqlite3.Connection | None = None) -> None:
        """A :class:`ConflictError` (409) when the import was applied already."""
        record = self.store.get_import(import_id, con)
        if record is not None and record["applied_at"]:
            raise ConflictError(
                f"import {import_id} was applied at {record['applied_at']}; applying it again changes "
                "nothing",
                applied_at=record["applied_at"],
            )


def _categories(base: PlanResult) -> set[str]:
    return set(base.data.catalog.keys())


def changed_communities(old: PlanResult, new: PlanResult, category: str) -> int:
    """How many communities' coverage of ``category`` differs between two results of the same
    communities (a community without a row in ``old`` differs unless its row in ``new`` is all NaN)."""
    n = len(new.data.communities)
    before, rows_b, after = _coverage_of(old, category, n), *_coverage_rows(new, category)
    diff = ~np.isclose(before[rows_b], after, equal_nan=True)
    return int(diff.any(axis=1).sum())


#: the coverage columns :func:`changed_communities` compares
_COMPARED = ["covered_share", "share_5", "share_10", "share_15", "nearest_time_s"]


def _coverage_rows(res: PlanResult, category: str) -> tuple[np.ndarray, np.ndarray]:
    """(community rows, values of :data:`_COMPARED`) of ``category`` in a result's coverage table."""
    cov = res.coverage
    mask = cov["category"].to_numpy(dtype=object) == category
    rows = cov["community_row"].to_numpy(dtype=np.int64)[mask]
    return rows, cov[_COMPARED].to_numpy(dtype=float)[mask]


def _coverage_of(res: PlanResult, category: str, n: int) -> np.ndarray:
    """The values of :data:`_COMPARED` per community row (``n`` rows; NaN where there is none)."""
    rows, values = _coverage_rows(res, category)
    out = np.full((max(n, int(rows.max()) + 1 if len(rows) else 0), len(_COMPARED)), np.nan)
    out[rows] = values
    return out
