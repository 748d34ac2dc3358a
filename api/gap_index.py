"""A gap list of one published result as numpy columns (for filters) and JSON-ready rows (for pages)."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from circles._common import jsonable
from circles.errors import InputError
from circles.pipeline import PlanResult
from circles.planning.queries import district_names, gaps_at, with_admin_columns

__all__ = [
    "API_CACHE",
    "MAX_MINUTE_INDEXES",
    "MINUTES_CACHE",
    "GapIndex",
    "cached_gap_index",
    "gap_index_of",
    "json_records",
    "page_json",
]

#: names of the gap indexes' caches in ``PlanResult.caches`` (derived from one result, dropped with it)
API_CACHE = "api"
MINUTES_CACHE = "api_minutes"
#: the column of each gap's place in the list (1 = most severe)
RANK = "severity_rank"
#: gap lists judged within other minutes than the categories' own, kept per result
MAX_MINUTE_INDEXES = 16
#: guards the creation of each result's build lock
_locks_lock = threading.Lock()


def _json_column(col: pd.Series) -> list[Any]:
    """A column's values as JSON-ready Python values (NaN, infinity and NA as None), vectorised where
    the dtype allows; the same values :func:`circles._common.jsonable` gives row by row."""
    if pd.api.types.is_float_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return [v if ok else None for v, ok in zip(values.tolist(), np.isfinite(values).tolist())]
    if (
        pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
    ) and not col.isna().any():
        return col.to_numpy().tolist()
    return [v if type(v) is str else jsonable(v) for v in col.to_numpy(dtype=object).tolist()]


def _district_names(col: pd.Series) -> np.ndarray:
    """:func:`~circles.planning.queries.district_names` of a column, looked up once per distinct value."""
    values = col.fillna("").to_numpy(dtype=object)
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.asarray(district_names(distinct.tolist()).astype(str)[inverse], dtype=str)


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows of ``frame`` (as ``[jsonable(r) for r in frame.to_dict("records")]``, faster)."""
    keys = [str(c) for c in frame.columns]
    columns = [_json_column(frame[c]) for c in frame.columns]
    return [dict(zip(keys, row)) for row in zip(*columns)] if len(frame) else []


class GapIndex:
    """A gap list of one published result as numpy columns (for filters) and JSON-ready dicts (for
    pages), so a query costs a mask and a slice, not a DataFrame round trip. ``gaps``: the plan's list
    or one judged within other minutes or walking metres (:func:`circles.planning.queries.gaps_at`;
    ``minutes`` / ``walk_m`` say which, both None: the plan's own); rows carry their community's 社区 and
    街道 where known."""

    def __init__(
        self,
        result: PlanResult,
        gaps: pd.DataFrame,
        *,
        minutes: float | None = None,
        walk_m: float | None = None,
        previous: GapIndex | None = None,
        changed: Collection[str] = (),
    ):
        """``previous``: the index of the plan this one was derived from by re-planning the categories
        ``changed`` only (:func:`circles.pipeline.with_facilities`): the rows of the other categories
        share its JSON-ready records, the rest are converted afresh."""
        g = with_admin_columns(result, gaps)
        self.result = result
        self.minutes = minutes
        self.walk_m = walk_m
        self.gaps = g
        self.category = g["category"].to_numpy().astype(str)
        self.level_min = g["level_min"].to_numpy()
        self.district = _district_names(g["district"])
        self.kind = g["kind"].to_numpy().astype(str)
        self.uncovered_residents = g["uncovered_residents"].fillna(0).to_numpy(dtype=float)
        self.uncovered_area_m2 = g["uncovered_area_m2"].fillna(0).to_numpy(dtype=float)
        #: each row's rank (``severity_rank``, the list's first column) apart from the rest of its
        #: record, so the records of unchanged rows are shared with the index this one derives from
        self._rank: list[int] | None = g[RANK].tolist() if list(g.columns[:1]) == [RANK] else None
        reused = None if previous is None else self._reused_records(previous, set(changed))
        self._rows: list[dict[str, Any]] = self._converted(g) if reused is None else reused
        #: each record's JSON text, encoded on first use (one list slot per row; filling is idempotent)
        self._encoded: list[str | None] = [None] * len(self._rows)
        #: what other modules derive from this index and keep with it, by name (e.g. the CSV and GeoJSON
        #: encoders of :mod:`api.read_tables`); dropped with the index
        self.derived: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def record(self, row: int) -> dict[str, Any]:
        """Row ``row`` as a JSON-ready dict (every column, in the list's order)."""
        rest = self._rows[row]
        return rest if self._rank is None else {RANK: self._rank[row], **rest}

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every row as a JSON-ready dict (see :meth:`record`; made on each call)."""
        return [self.record(i) for i in range(len(self))]

    def _converted(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """JSON-ready dicts of ``frame``'s rows, without the rank when it is kept apart."""
        return json_records(frame if self._rank is None else frame.drop(columns=RANK))

    def _reused_records(self, previous: GapIndex, changed: set[str]) -> list[dict[str, Any]] | None:
        """The records of this index with those of unchanged categories taken from ``previous`` (each
        row found by its category, kind and community; the rank is kept apart); None when
        they cannot be (another community layer or threshold, columns differ, a row key is not unique
        or not found, or a reused row's values differ), and the caller converts every row."""
        g, old = self.gaps, previous.gaps
        same_basis = (
            previous.result.data.communities is self.result.data.communities
            and (previous.minutes, previous.walk_m) == (self.minutes, self.walk_m)
            and list(old.columns) == list(g.columns)
        )
        if not same_basis:
            return None
        keys, old_keys = _row_keys(self, previous)
        if len(np.unique(old_keys)) != len(old_keys) or len(np.unique(keys)) != len(keys):
            return None
        fresh = np.isin(self.category, list(changed))
        kept = np.flatnonzero(~fresh)
        where = pd.Index(old_keys).get_indexer(keys[kept])  # row of each kept key in previous; -1: none
        if (where < 0).any() or not _same_values(self, previous, kept, where):
            return None
        if (previous._rank is None) != (self._rank is None):
            return None
        rows: list[dict[str, Any]] = [{}] * len(g)  # every slot is replaced below
        old_rows = previous._rows
        for i, j in zip(kept.tolist(), where.tolist()):
            rows[i] = old_rows[j]  # shared: a record is never changed once made
        new_rows = np.flatnonzero(fresh)
        for i, record in zip(new_rows.tolist(), self._converted(g.iloc[new_rows])):
            rows[i] = record
        return rows

    def items_json(self, rows: np.ndarray) -> str:
        """The records of ``rows`` as the inside of a JSON list (``json.dumps`` text, ", " between
        items); each row is encoded once per index, so a page costs a join."""
        enc = self._encoded
        out = []
        for i in rows.tolist():
            text = enc[i]
            if text is None:
                text = enc[i] = json.dumps(self.record(i), ensure_ascii=False, allow_nan=False)
            out.append(text)
        return ", ".join(out)

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
        mask = np.ones(len(self), dtype=bool)
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


def _row_keys(new: GapIndex, old: GapIndex) -> tuple[np.ndarray, np.ndarray]:
    """A number per (category, kind, community id) of each row of two indexes, comparable between them
    (a plan has one gap row per key)."""
    both_category = np.concatenate([new.category, old.category])
    both_kind = np.concatenate([new.kind, old.kind])
    both_id = pd.concat([new.gaps["community_id"], old.gaps["community_id"]], ignore_index=True).astype(str)
    _, cat = np.unique(both_category, return_inverse=True)
    _, kind = np.unique(both_kind, return_inverse=True)
    ids, _ = pd.factorize(both_id)
    key = (cat.astype(np.int64) * (int(kind.max(initial=0)) + 1) + kind) * (int(ids.max(initial=0)) + 1) + ids
    return key[: len(new.category)], key[len(new.category) :]


def _same_values(new: GapIndex, old: GapIndex, rows: np.ndarray, source: np.ndarray) -> bool:
    """Whether rows ``rows`` of ``new`` carry the same filter columns as rows ``source`` of ``old`` (a
    cheap check that reused records describe the same gaps)."""
    return bool(
        np.array_equal(new.level_min[rows], old.level_min[source])
        and np.array_equal(new.district[rows], old.district[source])
        and np.array_equal(new.uncovered_residents[rows], old.uncovered_residents[source])
        and np.array_equal(new.uncovered_area_m2[rows], old.uncovered_area_m2[source])
    )


def page_json(items_json: str, **members: Any) -> str:
    """``json.dumps({**members, "items": [...]}, ensure_ascii=False)`` with the items already encoded
    (see :meth:`GapIndex.items_json`); the same text, byte for byte."""
    head = json.dumps(members, ensure_ascii=False, allow_nan=False)[:-1]
    return f'{head}, "items": [{items_json}]}}' if members else f'{{"items": [{items_json}]}}'


def _cache_key(minutes: float | None, walk_m: float | None) -> tuple[str, Any]:
    """(cache name, key) of a gap index: the plan's own list, or one judged within ``minutes`` or
    ``walk_m`` metres (keyed on both: 10 minutes and 10 metres are different lists)."""
    if minutes is None and walk_m is None:
        return API_CACHE, "gap_index"
    if minutes is not None and walk_m is not None:
        raise InputError("give minutes or walk_m, not both")
    return MINUTES_CACHE, (minutes, walk_m)


def gap_index_of(
    result: PlanResult,
    minutes: float | None = None,
    walk_m: float | None = None,
    *,
    derived_from: tuple[PlanResult, Collection[str]] | None = None,
) -> GapIndex:
    """The gap index of ``result`` (coverage judged within ``minutes``, or within ``walk_m`` metres of
    network walking distance; both None: each category's own threshold), built once and cached on the
    result (``result.caches``): concurrent callers wait for the one build instead of building it each
    (an edit publishes a new result: after it every reader asks at once). At most
    :data:`MAX_MINUTE_INDEXES` thresholds are kept per result. ``derived_from``: (the plan ``result``
    was made from, the categories re-planned): the plan's own index reuses that plan's rows of the
    other categories when it is built already."""
    name, key = _cache_key(minutes, walk_m)
    with _locks_lock:
        cache = result.caches.setdefault(name, {})
        lock = result.caches.setdefault("api_locks", {}).setdefault(name, threading.Lock())
    found: GapIndex | None = cache.get(key)
    if found is not None:
        return found
    with lock:
        found = cache.get(key)
        if found is None:
            own = name == API_CACHE
            gaps = result.gaps if own else gaps_at(result, minutes, walk_m=walk_m)
            previous: GapIndex | None = None
            changed: Collection[str] = ()
            if own and derived_from is not None:
                previous = cached_gap_index(derived_from[0])
                changed = tuple(derived_from[1])
            found = GapIndex(result, gaps, minutes=minutes, walk_m=walk_m, previous=previous, changed=changed)
            cache[key] = found
            if not own:
                while len(cache) > MAX_MINUTE_INDEXES:
                    cache.pop(next(iter(cache)))
    return found


def cached_gap_index(
    result: PlanResult, minutes: float | None = None, walk_m: float | None = None
) -> GapIndex | None:
    """The gap index of ``result`` if it is built already (no work), else None."""
    name, key = _cache_key(minutes, walk_m)
    found: GapIndex | None = result.caches.get(name, {}).get(key)
    return found
