"""Derived tables of the cheap reads, built once per published plan so that ``GET /facilities``,
``/communities``, ``/categories`` and pages of ``/gaps`` (CSV, GeoJSON) cost a mask, a slice and a join,
and can be answered on the event loop instead of waiting in the worker-thread pool behind heavy work.

Every table is a pure function of one :class:`~circles.pipeline.PlanResult` and is cached on it
(``PlanResult.caches[READ_CACHE]``): an edit publishes a new result, whose caches start empty, so a
cached table is never stale. Builds are not locked: two concurrent first readers may both build a table
(the builds are pure and equal), and the first one stored is kept (``dict.setdefault``).

Two kinds of entries outlive one result where that is safe:

- what depends only on the community layer (the geometry of each community as GeoJSON text, the static
  columns of the community summaries) is cached on the layer's unedited plan (``Published.base``) when
  the result shares that plan's community table (the same object: facility edits never copy it);
- what is derived from one gap index (CSV cells and GeoJSON features of each gap row) is kept in the
  index's own ``derived`` entries (:class:`~api.gap_index.GapIndex`; dropped with it).

Every answer is byte-for-byte the one the former per-request code gave (see
``tests/api/test_read_paths.py``): the CSV encoder replicates what ``sheet_table(...).to_csv()`` writes,
including pandas' per-page column types (a page of whole numbers with a blank is written as floats).
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import mapping

from circles.outputs.tables import Column, neutralise, sheet_cell
from circles.pipeline import PlanResult
from circles.planning.queries import ADMIN_COLUMNS, district_names

from .gap_index import GapIndex, json_records
from .schemas import Category, CommunitySummary, Facility
from .state import ServiceState, facility_view

__all__ = [
    "MAX_CSV_ANSWERS",
    "READ_CACHE",
    "SUMMARY_COLUMNS",
    "CommunityTable",
    "FacilityTable",
    "GapFiles",
    "categories",
    "community_geometry",
    "community_table",
    "csv_text",
    "facility_table",
    "gap_files",
    "gap_geometry",
    "layer_cache",
    "plan_cache",
    "remember",
    "sheet_cells",
    "summaries",
]

#: name of the read tables' cache in ``PlanResult.caches``
READ_CACHE = "api_read"
#: encoded ``/coverage`` CSV answers kept per result (category x threshold x district)
MAX_CSV_ANSWERS = 64
SUMMARY_COLUMNS = ["community_id", "name", "type", "district", *ADMIN_COLUMNS, "area_m2", "residents"]


def _compact(value: Any) -> str:
    """``value`` as compact JSON text, as Starlette's ``JSONResponse`` writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


#: guards the bounded answer caches (:func:`remember`), written from the event loop and from threads
_REMEMBER_LOCK = threading.Lock()


def remember(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> Any:
    """Keep ``value`` under ``key`` in ``cache``, dropping the oldest entries beyond ``limit``; returns
    the value kept (an equal one stored meanwhile wins)."""
    with _REMEMBER_LOCK:
        kept = cache.setdefault(key, value)
        while len(cache) > limit:
            cache.pop(next(iter(cache)))
    return kept


def plan_cache(res: PlanResult) -> dict[Any, Any]:
    """The read tables' cache of one result (``res.caches[READ_CACHE]``)."""
    return res.caches.setdefault(READ_CACHE, {})


def layer_cache(state: ServiceState, res: PlanResult) -> dict[Any, Any]:
    """A cache for what depends only on the community layer of ``res``: the one of the layer's
    unedited plan when ``res`` shares its community table (the same object), else ``res``'s own."""
    base = state.current().base
    if base.data.communities is res.data.communities:
        return plan_cache(base)
    return plan_cache(res)


# ---------------------------------------------------------------------------------------------- facilities
@dataclass
class FacilityTable:
    """The facility register of one result: category and source columns for filters, and each row as
    a :class:`~api.schemas.Facility`, validated on first use."""

    facilities: pd.DataFrame
    category: np.ndarray
    source: np.ndarray
    items: list[Facility | None]
    #: the table's rows (``itertuples``), listed on the first page asked
    tuples: list[Any] | None = None

    def matching(self, category: str | None, source: str | None) -> np.ndarray:
        """Row numbers (table order) of the facilities of ``category`` (a key) and ``source``."""
        mask = np.ones(len(self.category), dtype=bool)
        if category is not None:
            mask &= self.category == category
        if source is not None:
            mask &= self.source == source
        return np.flatnonzero(mask)

    def page(self, rows: np.ndarray) -> list[Facility]:
        """The facilities of ``rows`` as the API shows them (WGS84 degrees rounded to 1e-7)."""
        items = self.items
        missing = [i for i in rows.tolist() if items[i] is None]
        if missing:
            if self.tuples is None:  # one pass over the table (cheaper than a row selection per page)
                self.tuples = list(self.facilities.itertuples())
            for i in missing:
                items[i] = Facility.model_validate(facility_view(self.tuples[i]))
        return [f for f in (items[i] for i in rows.tolist()) if f is not None]


def facility_table(res: PlanResult) -> FacilityTable:
    """The :class:`FacilityTable` of ``res`` (built once per result)."""
    cache = plan_cache(res)
    found: FacilityTable | None = cache.get("facilities")
    if found is None:
        fac = res.data.facilities
        built = FacilityTable(
            fac,
            fac["category"].to_numpy(dtype=object),
            fac["source"].to_numpy(dtype=object),
            [None] * len(fac),
        )
        found = cache.setdefault("facilities", built)
    return found


# ---------------------------------------------------------------------------------------------- categories
def categories(res: PlanResult) -> list[Category]:
    """The facility catalog of ``res`` as :class:`~api.schemas.Category` rows (built once per result)."""
    cache = plan_cache(res)
    found: list[Category] | None = cache.get("categories")
    if found is None:
        found = cache.setdefault(
            "categories", [Category.model_validate(r) for r in res.data.catalog.to_records()]
        )
    return found


# ---------------------------------------------------------------------------------------------- communities
def _static_summaries(comm: pd.DataFrame) -> pd.DataFrame:
    """The columns of the community summaries that depend on the community layer only."""
    out = comm[[c for c in SUMMARY_COLUMNS if c in comm]].copy()
    out["community_id"] = out["community_id"].astype(str)
    for col in ADMIN_COLUMNS:
        if col in out:
            out[col] = [v if isinstance(v, str) and v.strip() else None for v in out[col]]
    return out


def summaries(res: PlanResult, layer: dict[Any, Any] | None = None) -> pd.DataFrame:
    """One row per community (in table order) with its number of coverage gaps (``n_gaps``); built
    once per result (``layer``: the cache of :func:`layer_cache`, for the layer's static columns). Do
    not modify the frame."""
    return community_table(res, layer).summaries


@dataclass
class CommunityTable:
    """The community summaries of one result, the official district name of each row (for filters)
    and each row as a :class:`~api.schemas.CommunitySummary`, validated on first use."""

    summaries: pd.DataFrame
    districts: np.ndarray
    items: list[CommunitySummary | None]
    #: the summaries as JSON-ready rows, made on the first page asked
    records: list[dict[str, Any]] | None = None
    #: community row -> its detail (``/communities/{id}``), built on first ask
    details: dict[int, Any] = field(default_factory=dict)

    def page(self, rows: np.ndarray) -> list[CommunitySummary]:
        """The summaries of ``rows`` as the API shows them."""
        items = self.items
        missing = [i for i in rows.tolist() if items[i] is None]
        if missing:
            if self.records is None:
                self.records = json_records(self.summaries)
            for i in missing:
                items[i] = CommunitySummary.model_validate(self.records[i])
        return [s for s in (items[i] for i in rows.tolist()) if s is not None]


def community_table(res: PlanResult, layer: dict[Any, Any] | None = None) -> CommunityTable:
    """The :class:`CommunityTable` of ``res`` (built once per result; ``layer``: where the layer's
    static columns are cached, default ``res``'s own cache)."""
    cache = plan_cache(res)
    found: CommunityTable | None = cache.get("communities")
    if found is not None:
        return found
    layer = cache if layer is None else layer
    comm = res.data.communities
    static: tuple[pd.DataFrame, pd.DataFrame, np.ndarray] | None = layer.get("layer_summaries")
    if static is None or static[0] is not comm:
        frame = _static_summaries(comm)
        blank = np.full(len(frame), "", dtype=object)
        districts = district_names(frame["district"]) if "district" in frame else blank
        static = layer["layer_summaries"] = (comm, frame, districts)
    out = static[1].copy()
    gaps = res.gaps
    n = gaps[gaps["kind"] == "coverage"].groupby("community_id").size() if len(gaps) else pd.Series(dtype=int)
    out["n_gaps"] = out["community_id"].map(n).fillna(0).astype(int)
    built = CommunityTable(out, static[2], [None] * len(out))
    return cache.setdefault("communities", built)


# ---------------------------------------------------------------------------------------------- CSV
def _cell(value: Any, kind: str) -> Any:
    """One sheet cell as :func:`circles.outputs.tables.sheet_table` makes it (formula-like text
    neutralised)."""
    cell = sheet_cell(value, kind)
    return neutralise(cell) if isinstance(cell, str) else cell


def sheet_cells(values: Sequence[Any], kind: str) -> list[Any]:
    """The cells of one column as :func:`circles.outputs.tables.sheet_table` makes them: blanks as
    None, numbers rounded by ``kind`` (shares in percent, seconds in minutes), infinity as
    :data:`~circles.outputs.tables.UNREACHABLE`, formula-like text neutralised. Text and finite
    floats (``v - v == 0``) take an inline path; anything else goes through :func:`_cell`."""
    if kind == "text":
        return [neutralise(v) if type(v) is str else _cell(v, kind) for v in values]
    if kind == "share":
        return [round(100.0 * v, 1) if type(v) is float and v - v == 0 else _cell(v, kind) for v in values]
    if kind == "minutes":
        return [round(v, 1) if type(v) is float and v - v == 0 else _cell(v, kind) for v in values]
    if kind == "seconds":
        return [round(v / 60.0, 1) if type(v) is float and v - v == 0 else _cell(v, kind) for v in values]
    if kind == "number":
        return [round(v, 2) if type(v) is float and v - v == 0 else _cell(v, kind) for v in values]
    if kind == "bool":
        return [_cell(v, kind) for v in values]
    return [int(round(v)) if type(v) is float and v - v == 0 else _cell(v, kind) for v in values]


def _column_text(cells: Sequence[Any]) -> list[str]:
    """One column of cells as pandas writes it to CSV once it has inferred the column's type from
    these cells: whole numbers with a blank, or with a fraction among them, become floats (``1.0``);
    anything else is written as ``str`` of the value; blanks as ''."""
    types = {type(v) for v in cells}
    blank = type(None) in types
    types.discard(type(None))
    if types == {float}:
        return ["" if v is None else repr(v) for v in cells]
    if types and types <= {int, float} and (float in types or blank):
        return ["" if v is None else repr(float(v)) for v in cells]
    return ["" if v is None else str(v) for v in cells]


def _csv_lines(header: Sequence[str], columns: Sequence[Sequence[Any]]) -> str:
    """CSV text (``\\n`` line ends, minimal quoting: as pandas' ``to_csv``) of a header and columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*(_column_text(c) for c in columns)))
    return buf.getvalue()


def _present(frame: pd.DataFrame, columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.source in frame.columns]


def csv_text(frame: pd.DataFrame, columns: Sequence[Column]) -> str:
    """``sheet_table(frame, columns, headers="name").to_csv(index=False)``, the same text, faster."""
    present = _present(frame, columns)
    header = [c.name for c in present]
    if len(set(header)) < len(header):  # a name twice: the sheet keeps one; let pandas decide which
        from circles.outputs.tables import sheet_table

        return str(sheet_table(frame, columns, headers="name").to_csv(index=False))
    return _csv_lines(header, [sheet_cells(frame[c.source].tolist(), c.kind) for c in present])


# ---------------------------------------------------------------------------------------------- /gaps files
def community_geometry(layer: dict[Any, Any], comm: pd.DataFrame) -> dict[Any, str] | None:
    """Each community's geometry as compact GeoJSON text (``null`` when empty or missing), keyed by
    ``community_id`` as the table holds it; None when the ids are not unique (the former code refused
    such a table, and still does). Built once per community layer."""
    found: tuple[pd.DataFrame, dict[Any, str] | None] | None = layer.get("layer_geometry")
    if found is not None and found[0] is comm:
        return found[1]
    ids = comm["community_id"].tolist()
    texts: dict[Any, str] | None = None
    if len(set(ids)) == len(ids):
        texts = {i: _compact(mapping(g) if g else None) for i, g in zip(ids, comm.geometry.to_numpy())}
    layer["layer_geometry"] = (comm, texts)
    return texts


class GapFiles:
    """CSV cells and GeoJSON features of each row of one :class:`~api.gap_index.GapIndex`, made on
    first use (one list slot per row; filling a slot is idempotent), so a page costs a join."""

    def __init__(self, idx: GapIndex, columns: Sequence[Column]):
        self.idx = idx
        self.columns = _present(idx.gaps, columns)
        self.header = [c.name for c in self.columns]
        self._cells: list[tuple[Any, ...] | None] = [None] * len(idx)
        self._features: list[str | None] = [None] * len(idx)

    @property
    def fast_csv(self) -> bool:
        """Whether the CSV of a page can be joined from rows (column names unique)."""
        return len(set(self.header)) == len(self.header)

    def csv(self, rows: np.ndarray) -> str:
        """The CSV text of ``rows`` (as ``sheet_table(idx.gaps.iloc[rows], columns).to_csv()``)."""
        cells = self._cells
        todo = [i for i in rows.tolist() if cells[i] is None]
        if todo:
            sub = self.idx.gaps.iloc[todo]
            made = zip(*(sheet_cells(sub[c.source].tolist(), c.kind) for c in self.columns))
            for i, row in zip(todo, made):
                cells[i] = row
        page = [cells[i] for i in rows.tolist()]
        columns = list(zip(*page)) if page else [()] * len(self.columns)
        return _csv_lines(self.header, columns)

    def features(self, rows: np.ndarray, geometry: dict[Any, str]) -> str:
        """The GeoJSON features of ``rows`` (compact JSON, "," between them): each gap's community
        polygon (EPSG:4326) with the gap row as properties."""
        feats = self._features
        out = []
        for i in rows.tolist():
            text = feats[i]
            if text is None:
                rec = self.idx.record(i)
                geom = geometry.get(rec["community_id"], "null")
                props = _compact(rec)
                text = feats[i] = f'{{"type":"Feature","geometry":{geom},"properties":{props}}}'
            out.append(text)
        return ",".join(out)


#: guards the creation of each index's :class:`GapFiles`
_GAP_FILES_LOCK = threading.Lock()


def gap_files(idx: GapIndex, columns: Sequence[Column]) -> GapFiles:
    """The :class:`GapFiles` of ``idx`` for ``columns`` (one per index and column list, kept in the
    index's ``derived`` entries: dropped with the index)."""
    key = ("gap_files", tuple(c.name for c in columns))
    with _GAP_FILES_LOCK:
        found = idx.derived.get(key)
        if found is None:
            found = idx.derived[key] = GapFiles(idx, columns)
    return found


def gap_geometry(state: ServiceState, idx: GapIndex) -> dict[Any, str] | None:
    """Community geometry texts for the GeoJSON pages of ``idx`` (see :func:`community_geometry`)."""
    res = idx.result
    return community_geometry(layer_cache(state, res), res.data.communities)
