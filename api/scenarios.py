"""Scenarios: named what-if sets of proposed facility additions, moves and removals on top of the
baseline register, stored durably beside the edits (:mod:`api.store`) and never applied to it.

- A scenario is a row and its changes, in order; every write (create, change, undo, delete) is one
  ``BEGIN IMMEDIATE`` transaction with an audit row in the edit log (``scenario_*`` actions), like the
  register's edits. Each change and undo bumps the scenario's own ``revision``.
- Workers keep no scenario state: every request reads the scenario from SQLite (one small read), so a
  scenario written on one worker process is seen by the next request on any other.
- A scenario's plan is the current baseline plan with its changes replayed (:func:`apply_changes`):
  only the categories the changes touch are searched again (:func:`circles.pipeline.with_facilities`,
  ~0.04 s of CPU on the default region). It is cached on the baseline result it was derived from (an edit of
  the register publishes a new baseline result, so the cache starts afresh), keyed by (scenario id,
  scenario revision), least recently used dropped beyond :data:`MAX_SCENARIO_PLANS`.
- A change whose facility has since left the register (deleted by an edit) is skipped when replayed.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from circles._common import WGS84
from circles.errors import InputError
from circles.pipeline import PlanResult, with_facilities
from circles.routing.load import check_inside

from .errors import ConflictError, NotFoundError
from .gap_index import GapIndex, cached_gap_index, gap_index_of
from .state import Answer, Idempotency, Published, ServiceState
from .store import Actor
from .sync import FACILITY_COLUMNS

log = logging.getLogger(__name__)

__all__ = [
    "MAX_SCENARIO_PLANS",
    "PROPOSED",
    "SCENARIO_ACTIONS",
    "InEffect",
    "PlanView",
    "Scenario",
    "Scenarios",
    "apply_changes",
    "change_view",
    "gap_index_of",
    "workbook_text",
]

#: scenario plans kept per baseline result (least recently used dropped first)
MAX_SCENARIO_PLANS = 8
#: the name of the scenario plans' cache in ``PlanResult.caches`` (of the baseline result)
SCENARIO_CACHE = "api_scenarios"
#: ``source`` of a facility proposed by a scenario
PROPOSED = "proposed"
#: audit log actions of scenario writes
SCENARIO_ACTIONS = ("scenario_create", "scenario_delete", "scenario_change", "scenario_undo")

#: characters a workbook cell cannot hold (C0 controls but tab, line feed and carriage return)
_NOT_IN_WORKBOOKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_cache_lock = threading.Lock()
#: per (scenario id, revision) locks held while that plan is being built (single flight)
_building: dict[tuple[str, int], threading.Lock] = {}


def workbook_text(text: str) -> str:
    """``text`` without the control characters an Excel cell cannot hold (a name sent as ``"\\u0000"``
    is valid JSON, but would make the workbook fail)."""
    return _NOT_IN_WORKBOOKS.sub("", text)


def change_view(row: dict[str, Any]) -> dict[str, Any]:
    """A change as the API shows it (WGS84 degrees rounded to 1e-7; null for a removal)."""
    return {
        "change_id": int(row["change_id"]),
        "action": str(row["action"]),
        "facility_id": str(row["facility_id"]),
        "category": str(row["category"]),
        "lon": None if row["lon"] is None else round(float(row["lon"]), 7),
        "lat": None if row["lat"] is None else round(float(row["lat"]), 7),
        "name": str(row["name"] or ""),
        "created_at": str(row["created_at"]),
    }


@dataclass(frozen=True)
class Scenario:
    """A scenario as committed: its row (``scenario_id``, ``name``, ``description``, ``created_at``,
    ``revision``) and its changes in order."""

    row: dict[str, Any]
    changes: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.row["scenario_id"])

    @property
    def revision(self) -> int:
        return int(self.row["revision"])

    @property
    def name(self) -> str:
        return str(self.row["name"])

    def view(self) -> dict[str, Any]:
        """The scenario as the API shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": str(self.row["description"] or ""),
            "created_at": str(self.row["created_at"]),
            "revision": self.revision,
            "changes": [change_view(c) for c in self.changes],
        }


@dataclass(frozen=True)
class InEffect:
    """What a scenario's changes make of a facility table: ``facilities`` (the table a plan uses, in the
    register's order, proposed ones last), ``listing`` (the same with the removed rows, a ``status``:
    baseline, proposed, moved or removed, and ``from_lon``/``from_lat`` of moved ones), the
    ``categories`` the changes touch, and the ids of changes skipped (their facility left the register)."""

    facilities: gpd.GeoDataFrame
    listing: gpd.GeoDataFrame
    categories: list[str]
    skipped: list[int] = field(default_factory=list)


def apply_changes(base: gpd.GeoDataFrame, changes: list[dict[str, Any]]) -> InEffect:
    """Replay ``changes`` (in order) on the facility table ``base`` (WGS84 points; never modified)."""
    frame = pd.DataFrame(base[FACILITY_COLUMNS]).reset_index(drop=True)
    rows: list[dict[str, Any]] = frame.to_dict("records")
    geoms: list[Any] = list(base.geometry)
    status = ["baseline"] * len(rows)
    moved_from: list[tuple[float, float] | None] = [None] * len(rows)
    at = {str(r["facility_id"]): i for i, r in enumerate(rows)}
    cats: set[str] = set()
    skipped: list[int] = []
    for ch in changes:
        fid = str(ch["facility_id"])
        if ch["action"] == "add":
            at[fid] = len(rows)
            rows.append(
                {
                    "facility_id": fid,
                    "category": str(ch["category"]),
                    "name": str(ch["name"] or ""),
                    "floor_area_m2": math.nan,
                    "source": PROPOSED,
                }
            )
            geoms.append(Point(float(ch["lon"]), float(ch["lat"])))
            status.append(PROPOSED)
            moved_from.append(None)
            cats.add(str(ch["category"]))
            continue
        i = at.get(fid)
        if i is None or status[i] == "removed":
            skipped.append(int(ch["change_id"]))
            continue
        cats.add(str(rows[i]["category"]))
        if ch["action"] == "remove":
            status[i] = "removed"
        else:  # move
            if status[i] == "baseline":
                status[i] = "moved"
                moved_from[i] = (float(geoms[i].x), float(geoms[i].y))
            geoms[i] = Point(float(ch["lon"]), float(ch["lat"]))
    listing = gpd.GeoDataFrame(pd.DataFrame(rows, columns=FACILITY_COLUMNS), geometry=geoms, crs=WGS84)
    listing["floor_area_m2"] = pd.to_numeric(listing["floor_area_m2"], errors="coerce").astype("float64")
    listing["status"] = status
    listing["from_lon"] = [np.nan if m is None else m[0] for m in moved_from]
    listing["from_lat"] = [np.nan if m is None else m[1] for m in moved_from]
    kept = listing[listing["status"] != "removed"][[*FACILITY_COLUMNS, "geometry"]]
    facilities = gpd.GeoDataFrame(kept.reset_index(drop=True), geometry="geometry", crs=WGS84)
    return InEffect(facilities, listing, sorted(cats), skipped)


@dataclass(frozen=True)
class PlanView:
    """The plan a request answers from: the baseline (``scenario`` None) or a scenario's; ``revision``:
    the store revision of the baseline it rests on. Gap indexes cached on the result."""

    state: ServiceState
    result: PlanResult
    revision: int
    scenario: Scenario | None = None

    @property
    def scenario_id(self) -> str | None:
        return None if self.scenario is None else self.scenario.id

    def readme_lines(self) -> list[str]:
        """What the README sheet of a workbook answered from this plan says about it: the scenario's
        name, id, revision and number of changes (nothing for the baseline)."""
        if self.scenario is None:
            return []
        s = self.scenario
        return [
            f"scenario 方案: {workbook_text(s.name)} ({s.id}, revision {s.revision}); {len(s.changes)} "
            "changes; the baseline register is unchanged"
        ]

    def cached_gap_index(self, minutes: float | None = None, walk_m: float | None = None) -> GapIndex | None:
        """The gap index if it is built already (no work), else None."""
        if self.scenario is None:
            return self.state.cached_gap_index(minutes, walk_m)
        return cached_gap_index(self.result, minutes, walk_m)

    def gap_index(self, minutes: float | None = None, walk_m: float | None = None) -> GapIndex:
        """The gap list (coverage judged within ``minutes``, or within ``walk_m`` metres of network
        walking distance; both None: each category's own threshold), built once per result
        (:func:`api.gap_index.gap_index_of`, cached on it under the names the service's own gap
        indexes use, so a scenario without changes shares the baseline's)."""
        if self.scenario is None:
            return self.state.gap_index(minutes, walk_m)
        return gap_index_of(self.result, minutes, walk_m)


def _scenario_plan(base: PlanResult, scenario: Scenario) -> PlanResult:
    """The plan of ``scenario`` on the baseline ``base``, cached on ``base`` (LRU)."""
    cache = base.caches.setdefault(SCENARIO_CACHE, {})
    key = (scenario.id, scenario.revision)
    hit = _cached_plan(cache, key)
    if hit is not None:
        return hit
    with _cache_lock:
        building = _building.setdefault(key, threading.Lock())
    # one build per scenario revision: concurrent requests for the same plan wait for the first one
    with building:
        hit = _cached_plan(cache, key)
        if hit is not None:
            return hit
        effect = apply_changes(base.data.facilities, scenario.changes)
        res = base if not effect.categories else with_facilities(base, effect.facilities, effect.categories)
        with _cache_lock:
            for old in [k for k in cache if k[0] == scenario.id]:  # older revisions are never asked again
                del cache[old]
            cache[key] = res
            while len(cache) > MAX_SCENARIO_PLANS:
                cache.pop(next(iter(cache)))
            _building.pop(key, None)
    return res


def _cached_plan(cache: dict[Any, PlanResult], key: tuple[str, int]) -> PlanResult | None:
    """The cached plan under ``key``, marked most recently used, or None."""
    with _cache_lock:
        hit = cache.pop(key, None)
        if hit is not None:
            cache[key] = hit  # most recently used last
        return hit


class Scenarios:
    """Scenario reads and writes of one worker's service state (no state of its own)."""

    def __init__(self, state: ServiceState):
        self.state = state
        self.store = state.store

    # ---------------------------------------------------------------- reads
    def get(self, scenario_id: str, con: sqlite3.Connection | None = None) -> Scenario:
        """The committed scenario; a 404 when there is none."""
        found = self.store.scenario(scenario_id, con)
        if found is None:
            raise NotFoundError(f"no scenario with id {scenario_id!r}")
        return Scenario(*found)

    def all(self) -> list[Scenario]:
        """Every scenario, oldest first."""
        changes = self.store.scenario_changes()
        return [Scenario(r, changes.get(str(r["scenario_id"]), [])) for r in self.store.scenario_rows()]

    def view(self, scenario_id: str | None, published: Published | None = None) -> PlanView:
        """The plan a request answers from: the baseline (None) or the scenario's (computed once per
        scenario revision and baseline; a 404 for an unknown scenario). ``published``: the baseline to
        start from (default: the worker's current one)."""
        pub = published or self.state.current()
        if scenario_id is None:
            return PlanView(self.state, pub.result, pub.revision)
        scenario = self.get(scenario_id)
        return PlanView(self.state, _scenario_plan(pub.result, scenario), pub.revision, scenario)

    def in_effect(self, scenario: Scenario) -> InEffect:
        """The facilities the scenario's changes make of the current register."""
        return apply_changes(self.state.result.data.facilities, scenario.changes)

    # ---------------------------------------------------------------- writes
    # Each write is one transaction. With an ``Idempotency-Key`` (``idem``) its answer is kept in the
    # same transaction, and a retry with the same key answers it again (``Idempotent-Replayed``) and
    # changes nothing, even when the first request's change makes the retry's own check fail (a name
    # taken, a scenario or change gone); the same key with another request is a 422.
    def create(self, name: str, description: str, *, actor: Actor, idem: Idempotency | None = None) -> Answer:
        """A new, empty scenario (201, its view); a 409 when the name is taken."""
        prior = self.state.replay(idem)
        if prior is not None:
            return prior
        name = name.strip()
        if not name:
            raise InputError("a scenario needs a name")
        sid = f"s{uuid.uuid4().hex[:12]}"
        with self.store.transaction() as con:
            prior = self.state.replay(idem, con)
            if prior is not None:
                return prior
            taken = [r for r in self.store.scenario_rows(con) if r["name"] == name]
            if taken:
                raise ConflictError(
                    f"a scenario named {name!r} exists already", scenario_id=taken[0]["scenario_id"]
                )
            at = self.store.now()
            record = {"scenario_id": sid, "name": name, "description": description, "created_at": at}
            self.store.insert_scenario(con, record)
            self.store.log_edit(con, actor, "scenario_create", sid, None, record, at)
            return self._answered(con, idem, 201, self.get(sid, con).view())

    def delete(self, scenario_id: str, *, actor: Actor, idem: Idempotency | None = None) -> Answer:
        """Delete a scenario and its changes (``{"deleted": id}``); a 404 when there is none."""
        with self.store.transaction() as con:
            prior = self.state.replay(idem, con)
            if prior is not None:
                return prior
            before = self.get(scenario_id, con).view()
            self.store.delete_scenario(con, scenario_id)
            self.store.log_edit(con, actor, "scenario_delete", scenario_id, before, None)
            return self._answered(con, idem, 200, {"deleted": scenario_id})

    def change(
        self, scenario_id: str, body: dict[str, Any], *, actor: Actor, idem: Idempotency | None = None
    ) -> Answer:
        """Append one change (``action`` add, move or remove; see :class:`api.schemas.ScenarioChangeIn`)
        after checking it against the scenario's facilities in effect (201, the change's view): a 404
        for an unknown scenario or facility, a 422 for coordinates outside the region or far from any
        street."""
        prior = self.state.replay(idem)
        if prior is not None:
            return prior
        action = body["action"]
        record: dict[str, Any] = {"action": action, "lon": None, "lat": None, "name": ""}
        if action == "add":
            record.update(category=self._planned(body["category"]), name=(body.get("name") or "").strip())
        if action in ("add", "move"):
            record.update(lon=float(body["lon"]), lat=float(body["lat"]))
            self._check_place(record["lon"], record["lat"])
        with self.store.transaction() as con:
            prior = self.state.replay(idem, con)
            if prior is not None:
                return prior
            scenario = self.get(scenario_id, con)
            if action != "add":
                record.update(facility_id=str(body["facility_id"]))
                record.update(self._target(scenario, record["facility_id"]))
            at = self.store.now()
            record.update(scenario_id=scenario_id, created_at=at)
            change_id = self.store.insert_change(con, record)
            shown = change_view(
                next(c for c in self.get(scenario_id, con).changes if c["change_id"] == change_id)
            )
            self.store.log_edit(con, actor, "scenario_change", scenario_id, None, shown, at)
            return self._answered(con, idem, 201, shown)

    def undo(
        self, scenario_id: str, change_id: int, *, actor: Actor, idem: Idempotency | None = None
    ) -> Answer:
        """Undo one change (``{"undone": change_id}``); a 404 when the scenario has no such change, a
        409 when later changes move or remove the facility it proposed (undo those first)."""
        with self.store.transaction() as con:
            prior = self.state.replay(idem, con)
            if prior is not None:
                return prior
            scenario = self.get(scenario_id, con)
            hit = [c for c in scenario.changes if int(c["change_id"]) == change_id]
            if not hit:
                raise NotFoundError(f"scenario {scenario_id!r} has no change {change_id}")
            later = [
                int(c["change_id"])
                for c in scenario.changes
                if hit[0]["action"] == "add"
                and c["facility_id"] == hit[0]["facility_id"]
                and int(c["change_id"]) > change_id
            ]
            if later:
                raise ConflictError(
                    f"changes {', '.join(map(str, later))} move or remove the facility change {change_id} "
                    "proposed: undo them first",
                    change_ids=later,
                )
            self.store.delete_change(con, scenario_id, change_id)
            self.store.log_edit(con, actor, "scenario_undo", scenario_id, change_view(hit[0]), None)
            return self._answered(con, idem, 200, {"undone": change_id})

    def _answered(
        self, con: sqlite3.Connection, idem: Idempotency | None, status: int, body: dict[str, Any]
    ) -> Answer:
        """A write's answer, kept in its transaction for retries when it came with an ``Idempotency-Key``."""
        if idem is not None:
            self.store.remember_answer(con, idem.key, idem.fingerprint, status, body)
        return Answer(status, body)

    # ---------------------------------------------------------------- checks
    def _planned(self, category: str) -> str:
        """The key of a category the plan computed (422 otherwise)."""
        key = self.state.category_key(category)
        if key not in self.state.result.times:
            raise InputError(f"category {key!r} is not part of this service's plan")
        return key

    def _check_place(self, lon: float, lat: float) -> None:
        """A 422 unless (lon, lat) (WGS84 degrees) lies in the region and near a street."""
        res = self.state.result
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise InputError("lon and lat must be finite numbers")
        check_inside(lon, lat, res.data.region.bbox, f"region {res.data.region.key}")
        walk = res.data.graphs["walk"]
        walk.snap(res.data.net.project(lon, lat), max_snap_m=self.state.settings.max_snap_m)

    def _target(self, scenario: Scenario, facility_id: str) -> dict[str, Any]:
        """``category`` (and ``name``) of a facility in effect in ``scenario``; a 404 otherwise."""
        listing = self.in_effect(scenario).listing
        hit = listing[(listing["facility_id"] == facility_id) & (listing["status"] != "removed")]
        if not len(hit):
            raise NotFoundError(
                f"no facility {facility_id!r} in scenario {scenario.id!r} (a register id as in "
                "/facilities, or p<change_id> of a proposed one; removed ones cannot be changed)"
            )
        return {"category": str(hit["category"].iat[0]), "name": str(hit["name"].iat[0] or "")}
