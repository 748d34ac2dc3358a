"""Shared internals of the user-file readers (facilities, communities, candidate sites): naming offending
rows in messages, finding columns by their Chinese or English header, and parsing cells.

Private to :mod:`circles.io`; its names are public within it and the readers import it by module name
(``from . import _tables``). Opening and reading files is in :mod:`._files` (CSV in :mod:`._csv`, Excel
in :mod:`._excel`); geometry, coordinate systems and the region in :mod:`._lonlat`.

Row numbers are those a person sees: in an Excel sheet the row number Excel shows, in a CSV the record
number counted from 1 (row 1 is the line after the header), in a vector file the feature number from 1.
An id or name is shown beside the row number when the file has one. At most :data:`MAX_LISTED` rows
are listed.

Headers are matched ignoring case, spaces and full-width forms (``ＬＯＮ`` = ``lon``) and a trailing
note in brackets (``面积（㎡）`` = ``面积``, ``经度(GCJ-02)`` = ``经度``); a second pass also ignores ``_``,
``-`` and ``.`` (``Floor Area`` = ``floor_area``). Each column serves one field at most.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFileError, InputError

#: Rows (or values) named in one message at most.
MAX_LISTED = 10
#: Accepted headers of the longitude / x and latitude / y columns of a table of points.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "x坐标", "坐标x", "横坐标", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "y坐标", "坐标y", "纵坐标", "point_y")
#: The coordinate fields of a table of points, as an alias table.
LONLAT_ALIASES: Mapping[str, Sequence[str]] = {"lon": LON_NAMES, "lat": LAT_NAMES}
#: How the coordinate fields are named in messages.
FIELD_TITLES = {"lon": "longitude / x", "lat": "latitude / y"}
#: Rows searched for the header row of a table (the first with a longitude and a latitude header).
HEADER_SEARCH_ROWS = 10
#: Headers of a row counter (序号 1, 2, 3 …).
ROW_COUNTER_HEADERS = ("序号", "no", "no.")
#: Labels of a total row at the bottom of a register (compared like headers, ':' ignored).
TOTAL_LABELS = frozenset({"合计", "总计", "小计", "共计", "总数", "total", "sum", "subtotal", "grandtotal"})

#: Output column -> accepted input headers (first found wins), one table per input kind.
Aliases = Mapping[str, Sequence[str]]


# --- messages ------------------------------------------------------------------------------------


@dataclass
class Rows:
    """Row numbering and labels of one file, for messages. ``part``: the sheet or layer read, if named."""

    path: Path
    labels: np.ndarray | None = None  # an id or name per record (object array), or None
    numbers: np.ndarray | None = None  # the row number a person sees per record; None: 1, 2, …
    part: str | None = None
    label_fn: Callable[[], np.ndarray | None] | None = None  # labels computed when first needed

    def row_label(self, i: int) -> Any:
        """The label of record ``i`` (computing :attr:`labels` from :attr:`label_fn` the first time)."""
        if self.labels is None and self.label_fn is not None:
            self.labels, self.label_fn = self.label_fn(), None
        return self.labels[i] if self.labels is not None else None

    @property
    def source(self) -> str:
        """The file (and sheet or layer) as named at the start of messages: ``path`` or ``path#sheet``."""
        return str(self.path) + (f"#{self.part}" if self.part else "")

    def number(self, i: int) -> int:
        """The row number shown for record ``i`` (0-based)."""
        return int(self.numbers[i]) if self.numbers is not None else i + 1

    def where(self, mask: np.ndarray | Sequence[bool]) -> str:
        """'row 3 ('id7'), row 5, … and N more' for the records where ``mask`` is true."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        parts = []
        for i in idx[:MAX_LISTED]:
            label = self.row_label(int(i))
            n = self.number(int(i))
            parts.append(f"{n} ({label!r})" if isinstance(label, str) and label else str(n))
        text = ("row " if len(idx) == 1 else "rows ") + ", ".join(parts)
        return text + (f" … and {len(idx) - MAX_LISTED} more" if len(idx) > MAX_LISTED else "")

    def fail(
        self, cls: type[InputError], msg: str, mask: np.ndarray | None = None, hint: str = ""
    ) -> InputError:
        """``cls('<path>: <msg>: <rows><hint>')``."""
        return cls(f"{self.source}: {msg}" + (f": {self.where(mask)}" if mask is not None else "") + hint)

    def subset(self, keep: np.ndarray) -> Rows:
        """The numbering and labels of the records where ``keep`` is true."""
        keep = np.asarray(keep, dtype=bool)
        numbers = self.numbers if self.numbers is not None else np.arange(1, len(keep) + 1)
        if self.label_fn is not None:
            self.row_label(0)
        labels = self.labels[keep] if self.labels is not None else None
        return Rows(self.path, labels, numbers[keep], self.part)


def listing(items: Sequence[str]) -> str:
    """The first :data:`MAX_LISTED` items joined by commas, then '… and N more'."""
    head = ", ".join(items[:MAX_LISTED])
    return head + (f" … and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


# --- headers -------------------------------------------------------------------------------------

_TRAILING_NOTE = re.compile(r"\s*[(\[【][^()\[\]【】]*[)\]】]\s*$")
_SPACE = re.compile(r"\s+")
_JOINERS = re.compile(r"[_\-.]")


def header_key(name: object) -> str:
    """Comparable form of a header: NFKC (full-width to ASCII), lower case, no trailing note in
    brackets, no white space."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = _TRAILING_NOTE.sub("", text) or text
    return _SPACE.sub("", text)


def loose_key(name: object) -> str:
    """:func:`header_key` without ``_``, ``-`` and ``.``."""
    return _JOINERS.sub("", header_key(name))


def find_column(columns: Iterable[Any], names: Sequence[str]) -> Any | None:
    """The first column whose header matches one of ``names`` (in ``names`` order), or None."""
    return find_columns(columns, {"_": names})["_"]


def find_columns(columns: Iterable[Any], aliases: Aliases) -> dict[str, Any | None]:
    """Output column -> the input column found for it (None when absent).

    Exact matches (:func:`header_key`) are taken first for every field, then loose ones
    (:func:`loose_key`); within a field the first accepted name found wins, and a column serves one
    field only (fields are served in ``aliases`` order)."""
    cols = list(columns)
    found: dict[str, Any | None] = dict.fromkeys(aliases)
    taken: set[int] = set()
    for key in (header_key, loose_key):
        by_key: dict[str, list[int]] = {}
        for i, c in enumerate(cols):
            by_key.setdefault(key(c), []).append(i)
        for fld, names in aliases.items():
            if found[fld] is not None:
                continue
            for name in names:
                free = [i for i in by_key.get(key(name), []) if i not in taken]
                if free:
                    found[fld] = cols[free[0]]
                    taken.add(free[0])
                    break
    return found


def has_lonlat_headers(cells: Iterable[Any]) -> bool:
    """Whether a row of header cells holds both a longitude and a latitude header."""
    found = find_columns([c for c in cells if isinstance(c, str) and c.strip()], LONLAT_ALIASES)
    return found["lon"] is not None and found["lat"] is not None


def accepted_headers(aliases: Aliases, fld: str) -> str:
    """'category, 类别, 类型, …' for messages."""
    return ", ".join(aliases[fld])


def missing_columns_error(
    rows: Rows,
    aliases: Aliases,
    missing: Sequence[str],
    columns: Iterable[Any],
    hints: Mapping[str, str] | None = None,
) -> DataFileError:
    """A :class:`DataFileError` naming each ``missing`` field with its accepted headers (and a hint, e.g.
    the accepted values), and the columns the file has."""
    hints = hints or {}
    parts = []
    coords = [f for f in missing if f in LONLAT_ALIASES]
    if coords:
        accepted = "; ".join(f"{FIELD_TITLES[f]}: {accepted_headers(aliases, f)}" for f in coords)
        parts.append(f"no longitude/latitude columns (accepted headers, any case: {accepted})")
    for f in missing:
        if f not in LONLAT_ALIASES:
            hint = f"; {hints[f]}" if f in hints else ""
            parts.append(f"no {f!r} column (accepted headers: {accepted_headers(aliases, f)}{hint})")
    found = ", ".join(str(c) for c in columns) or "none"
    return DataFileError(f"{rows.source}: " + "; ".join(parts) + f"; columns found: {found}")


def extra_columns(
    frame: pd.DataFrame, used: Mapping[str, Any | None], reserved: Sequence[str]
) -> dict[Any, np.ndarray]:
    """The columns of ``frame`` kept after the standard ones: neither the geometry, nor a column found in
    ``used``, nor one whose header is a ``reserved`` output column; name -> values."""
    taken = {c for c in used.values() if c is not None}
    if "geometry" in frame.columns:
        taken.add("geometry")
    if hasattr(frame, "geometry"):
        taken.add(frame.geometry.name)
    reserved_keys = {header_key(r) for r in reserved}
    return {
        c: frame[c].to_numpy() for c in frame.columns if c not in taken and header_key(c) not in reserved_keys
    }


# --- cells ---------------------------------------------------------------------------------------


def _as_objects(values: pd.Series | np.ndarray) -> np.ndarray:
    """Values as an object array (pandas string columns keep NaN for missing cells)."""
    return np.asarray(values, dtype=object)


def is_blank(v: Any) -> bool:
    """Whether one cell is None, NA, NaN or a string of white space only."""
    if isinstance(v, str):
        return not v.strip()
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def blank(values: pd.Series | np.ndarray) -> np.ndarray:
    """Mask of cells that are None, NA or a string of white space only (cell by cell: use it on the few
    cells that did not parse, not on whole columns)."""
    obj = _as_objects(values)
    return np.fromiter((is_blank(v) for v in obj), dtype=bool, count=len(obj))


def _number_or_nan(v: Any) -> float:
    """One cell that plain parsing refused, retried: full-width digits, thousands separators, spaces."""
    if not isinstance(v, str):
        return np.nan
    text = unicodedata.normalize("NFKC", v).replace(",", "").replace(" ", "").replace("，", "")
    try:
        return float(text)
    except ValueError:
        return np.nan


def numbers(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float values, NaN where blank or not a number; mask of cells that are neither blank nor a
    number). Numbers stored as text are read, also with full-width digits or thousands separators."""
    if np.asarray(values).dtype.kind in "fiu":  # parsed as numbers already: NaN is a blank
        num = np.array(values, dtype=float)
        return num, np.isinf(num)
    obj = _as_objects(values)
    num = np.array(pd.to_numeric(pd.Series(obj, dtype=object), errors="coerce"), dtype=float)
    retry = np.flatnonzero(np.isnan(num))
    bad = np.zeros(len(num), dtype=bool)
    if len(retry):
        cells = obj[retry]
        empty = blank(cells)
        again = np.array([_number_or_nan(v) for v in cells[~empty]], dtype=float)
        num[retry[~empty]] = again
        bad[retry[~empty]] = np.isnan(again)
    bad |= np.isinf(num)
    return num, bad


def _one_string(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def strings(values: pd.Series | np.ndarray) -> np.ndarray:
    """Object array of stripped strings, None where blank; integral floats lose their '.0'."""
    obj = _as_objects(values)
    if pd.api.types.infer_dtype(obj, skipna=True) in ("string", "empty"):  # text only: vectorised
        stripped = pd.Series(obj, dtype=object).str.strip()
        out = stripped.to_numpy(dtype=object, copy=True)
        out[stripped.isna().to_numpy() | (stripped == "").to_numpy(dtype=bool)] = None
        return out
    codes, uniques = pd.factorize(obj, use_na_sentinel=True)
    mapped = np.array([_one_string(v) for v in uniques] + [None], dtype=object)
    return mapped[codes]


def optional_strings(frame: pd.DataFrame, col: Any | None) -> np.ndarray:
    """:func:`strings` of column ``col``, or all None when the file has no such column."""
    return strings(frame[col]) if col is not None else np.full(len(frame), None, object)


def non_negative(frame: pd.DataFrame, col: Any | None, rows: Rows, unit: str = "") -> np.ndarray:
    """An optional numeric column: numbers >= 0 or blank (NaN); NaN everywhere when ``col`` is None.
    Anything else is a :class:`DataFileError` naming the rows; ``unit`` (e.g. 'm²') is named there."""
    if col is None:
        return np.full(len(frame), np.nan)
    values, bad = numbers(frame[col])
    bad |= values < 0
    if bad.any():
        of_unit = f" of {unit}" if unit else ""
        raise rows.fail(DataFileError, f"{col!r} must be a number{of_unit} >= 0 or blank", bad)
    return values


def total_rows(frame: pd.DataFrame, candidates: np.ndarray) -> np.ndarray:
    """Mask of the ``candidates`` rows with a cell that reads like a total label (:data:`TOTAL_LABELS`:
    合计, 总计, Total, …)."""
    idx = np.flatnonzero(candidates)
    found = np.zeros(len(frame), dtype=bool)
    for col in frame.columns:
        if not len(idx):
            break
        keys = [header_key(v).rstrip(":：") if isinstance(v, str) else "" for v in frame[col].to_numpy()[idx]]
        found[idx[np.isin(keys, list(TOTAL_LABELS))]] = True
    return found


def blank_rows(frame: pd.DataFrame, candidates: np.ndarray) -> np.ndarray:
    """Mask of the ``candidates`` rows whose every cell in ``frame`` is blank."""
    idx = np.flatnonzero(candidates)
    empty = np.ones(len(idx), dtype=bool)
    for col in frame.columns:
        empty &= blank(frame[col].to_numpy()[idx])
    out = np.zeros(len(frame), dtype=bool)
    out[idx[empty]] = True
    return out


def drop_blank_unnamed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the columns that have no header (pandas names them 'Unnamed: n', e.g. from
    trailing delimiters) and no data."""
    drop = [c for c in frame.columns if str(c).startswith("Unnamed: ") and pd.isna(strings(frame[c])).all()]
    return frame.drop(columns=drop) if drop else frame


# --- tables of points ---------------------------------------------------------------------------


@dataclass
class PointTable:
    """A CSV or Excel table of points as read, before its rows are checked: the ``attrs`` (every other
    column, cells as read), ``x``/``y`` (NaN where blank or not a number), ``bad`` (mask of coordinate
    cells that are neither blank nor a number) and the row ``numbers`` a person sees."""

    attrs: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    bad: np.ndarray
    numbers: np.ndarray
    lon_col: Any
    lat_col: Any

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, lon_col: Any, lat_col: Any, row_numbers: np.ndarray
    ) -> PointTable:
        """Parse the coordinate columns of ``frame``; the rest become ``attrs``."""
        x, bad_x = numbers(frame[lon_col])
        y, bad_y = numbers(frame[lat_col])
        attrs = frame.drop(columns=[lon_col, lat_col]).reset_index(drop=True)
        return cls(attrs, x, y, bad_x | bad_y, np.asarray(row_numbers), lon_col, lat_col)

    @classmethod
    def concat(cls, parts: Sequence[PointTable], lon_col: Any, lat_col: Any) -> PointTable:
        """The parts (chunks of one file) one after the other."""
        if not parts:
            empty = np.zeros(0)
            return cls(pd.DataFrame(), empty, empty, empty.astype(bool), empty.astype(int), lon_col, lat_col)
        if len(parts) == 1:
            return parts[0]
        return cls(
            pd.concat([p.attrs for p in parts], ignore_index=True),
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.bad for p in parts]),
            np.concatenate([p.numbers for p in parts]),
            lon_col,
            lat_col,
        )

    def subset(self, keep: np.ndarray) -> PointTable:
        """The rows where ``keep`` is true."""
        return PointTable(
            self.attrs[keep].reset_index(drop=True),
            self.x[keep],
            self.y[keep],
            self.bad[keep],
            self.numbers[keep],
            self.lon_col,
            self.lat_col,
        )


# --- ids -----------------------------------------------------------------------------------------


def fill_blank_ids(ids: np.ndarray, rows: Rows) -> tuple[np.ndarray, int]:
    """``ids`` with blank (None) ones replaced by ``'<file stem>:<row>'``, and how many were blank."""
    blank_id = pd.isna(ids)
    if not blank_id.any():
        return ids, 0
    ids = ids.copy()
    stem = rows.path.name.split(".")[0]
    ids[blank_id] = [f"{stem}:{rows.number(int(i))}" for i in np.flatnonzero(blank_id)]
    return ids, int(blank_id.sum())


def duplicated(ids: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(mask of rows whose id occurs more than once, those ids in first-seen order)."""
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    return dup, list(dict.fromkeys(ids[dup]))


@dataclass(frozen=True)
class Schema:
    """What one kind of input file holds: ``what`` names its records in messages ('facilities'),
    ``aliases`` the accepted headers per output column, ``required`` the columns every file must
    have, ``tables`` whether CSV/Excel tables of points are accepted (else polygons are needed)."""

    what: str
    aliases: Aliases
    required: tuple[str, ...] = ()
    tables: bool = True
    labels: tuple[str, ...] = ()  # output columns that label rows in messages: an id, then a name
    numeric: tuple[str, ...] = ()  # output columns of numbers (a CSV reads them as numbers at once)


def is_row_counter(col: Any | None) -> bool:
    """Whether column ``col`` is headed as a row counter (:data:`ROW_COUNTER_HEADERS`)."""
    return col is not None and header_key(col) in ROW_COUNTER_HEADERS


def row_labels(
    frame: pd.DataFrame, columns: Mapping[str, Any | None], fields: Sequence[str]
) -> np.ndarray | None:
    """Per row, the first non-blank of the ``fields`` columns (an id, then a name; a row counter is
    skipped: the row number says it), or None when the file has none of them."""
    labels: np.ndarray | None = None
    for f in fields:
        col = columns.get(f)
        if col is None or is_row_counter(col):
            continue
        values = strings(frame[col])
        labels = values if labels is None else np.where(pd.notna(labels), labels, values)
    return labels


def label_values(ids: np.ndarray, names: np.ndarray, id_col: Any | None) -> np.ndarray:
    """:func:`row_labels` from a reader's ids and names (:func:`strings` of their columns)."""
    return names if is_row_counter(id_col) else np.where(pd.notna(ids), ids, names)
