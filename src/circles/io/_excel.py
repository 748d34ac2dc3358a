"""Reading one sheet of an Excel workbook (.xlsx) as a table, the way a person reads a register.

Private to :mod:`circles.io` (used by :mod:`._files`). The sheet is streamed with openpyxl (read-only
mode, cached formula values). Registers are laid out for people, so:

* merged cells take their value everywhere in the merged range (a 社区 merged down the rows of its
  facilities belongs to each of them; a header merged over two header rows names its column);
* the header row is the first of the first :data:`circles.io._tables.HEADER_SEARCH_ROWS` rows that
  holds a longitude and a latitude header; rows above it (a title) are skipped; a blank header cell
  under a header row of several labels takes the label above it;
* blank rows and columns without header or data are dropped; a column with data but no header is
  named ``column F`` by its letter;
* every record keeps the row number Excel shows, for messages.
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from ..errors import DataFileError
from . import _tables

log = logging.getLogger(__name__)

#: Largest total of a workbook's unzipped parts, bytes: a small .xlsx that unzips to more is refused
#: (a "zip bomb"; real registers unzip to 5-20 times their size).
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024

Range = tuple[int, int, int, int]  # min_col, min_row, max_col, max_row (1-based, inclusive)


@dataclass(frozen=True)
class Sheet:
    """One sheet as a table: its ``name``, the ``frame`` (header -> cells as Excel holds them: str,
    int, float, datetime or None) and the Excel row ``numbers`` of the records."""

    name: str
    frame: pd.DataFrame
    numbers: np.ndarray


def read_sheet(path: Path, part: str | int | None) -> Sheet:
    """Sheet ``part`` of the workbook (a name, a 0-based index, or None for the first) as a
    :class:`Sheet`; an unknown sheet is a :class:`DataFileError` listing the sheets."""
    import openpyxl

    _check_unzipped_size(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises a variety of types for files that are not workbooks
        raise DataFileError(f"{path}: cannot read as an Excel workbook (.xlsx) ({e})") from e
    try:
        name = _sheet_name(list(wb.sheetnames), part, path)
        ws = wb[name]
        ws.reset_dimensions()  # the stored "used range" is often wrong: read every row and column
        rows = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    finally:
        wb.close()
    _fill_merged(rows, merged_ranges(path, name))
    return _sheet_table(rows, name)


def _check_unzipped_size(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise DataFileError(f"{path}: cannot read as an Excel workbook (.xlsx) ({e})") from e
    if total > MAX_UNZIPPED_BYTES:
        raise DataFileError(
            f"{path}: the workbook unzips to {total / 1e6:,.0f} MB, over the limit of "
            f"{MAX_UNZIPPED_BYTES / 1e6:,.0f} MB; save the sheet as CSV"
        )


def _sheet_name(names: list[str], part: str | int | None, path: Path) -> str:
    if not names:
        raise DataFileError(f"{path}: the workbook has no sheets")
    if part is None:
        return names[0]
    if isinstance(part, int):
        found = names[part] if 0 <= part < len(names) else None
    else:  # the exact name, else one that differs only in case, spaces or full-width forms
        same = [n for n in names if n == part] or [
            n for n in names if _tables.header_key(n) == _tables.header_key(part)
        ]
        found = same[0] if same else None
    if found is not None:
        return found
    raise DataFileError(f"{path}: no sheet {part!r}; the sheets are: {', '.join(map(repr, names))}")


# --- merged cells --------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _sheet_member(z: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding sheet ``sheet_name`` (from the workbook part and its relationships)."""
    rid = None
    for el in ElementTree.fromstring(z.read("xl/workbook.xml")).iter():
        if _local(el.tag) == "sheet" and el.get("name") == sheet_name:
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
    if rid is None:
        return None
    for el in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels")).iter():
        if el.get("Id") == rid:
            target = el.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
    return None


def merged_ranges(path: Path, sheet_name: str) -> list[Range]:
    """The merged ranges of a sheet, read from the sheet's XML as a stream (openpyxl's read-only mode
    does not give them). Unreadable: logged, and none."""
    from openpyxl.utils.cell import range_boundaries

    out: list[Range] = []
    try:
        with zipfile.ZipFile(path) as z:
            member = _sheet_member(z, sheet_name)
            if member is None:
                return out
            with z.open(member) as f:
                for _, el in ElementTree.iterparse(f, events=("end",)):
                    tag = _local(el.tag)
                    if tag == "mergeCell" and ":" in el.get("ref", ""):
                        c0, r0, c1, r1 = range_boundaries(el.get("ref", ""))
                        if None not in (c0, r0, c1, r1):
                            out.append((int(c0 or 0), int(r0 or 0), int(c1 or 0), int(r1 or 0)))
                    elif tag == "row":
                        el.clear()  # keep memory bounded: the cells were read by openpyxl
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError, TypeError) as e:
        log.warning("%s: merged cells of sheet %r not read (%s)", path, sheet_name, e)
    return out


def _fill_merged(rows: list[list[Any]], ranges: list[Range]) -> None:
    """Give every cell of each merged range the value of its top-left cell (in place)."""
    width = max((len(r) for r in rows), default=0)
    for c0, r0, c1, r1 in ranges:
        if r0 > len(rows) or c0 > width or c0 < 1 or r0 < 1:
            continue
        anchor = rows[r0 - 1]
        value = anchor[c0 - 1] if c0 - 1 < len(anchor) else None
        if value is None:
            continue
        c1 = min(c1, width)
        for r in range(r0, min(r1, len(rows)) + 1):
            row = rows[r - 1]
            if len(row) < c1:
                row.extend([None] * (c1 - len(row)))
            row[c0 - 1 : c1] = [value] * (c1 - c0 + 1)


# --- header and records --------------------------------------------------------------------------


def _distinct_labels(row: list[Any]) -> int:
    return len({str(v).strip() for v in row if not _tables.is_blank(v)})


def _header_row(rows: list[list[Any]]) -> int:
    """Index of the header row: the first with a longitude and a latitude header among the first
    rows; failing that, the first with two or more labels (not a title); else the first non-blank."""
    for i, row in enumerate(rows[: _tables.HEADER_SEARCH_ROWS]):
        if _tables.has_lonlat_headers([v for v in row if isinstance(v, str)]):
            return i
    wide = (i for i, row in enumerate(rows[: _tables.HEADER_SEARCH_ROWS]) if _distinct_labels(row) >= 2)
    return next(wide, next((i for i, row in enumerate(rows) if _distinct_labels(row)), 0))


def _header_names(rows: list[list[Any]], h: int) -> list[str | None]:
    """Header labels of row ``h``; a blank cell takes the label above it when the row above holds
    several labels (a two-row header), not when it holds one (a title)."""
    above = rows[h - 1] if h > 0 and _distinct_labels(rows[h - 1]) >= 2 else None
    names: list[str | None] = []
    for j, v in enumerate(rows[h]):
        if _tables.is_blank(v) and above is not None and j < len(above):
            v = above[j]
        names.append(_tables.strings(np.array([v], dtype=object))[0])
    return names


def _sheet_table(rows: list[list[Any]], name: str) -> Sheet:
    """The records under the header row as a :class:`Sheet` (see the module docstring)."""
    from openpyxl.utils.cell import get_column_letter

    width = max((len(r) for r in rows), default=0)
    for r in rows:
        r.extend([None] * (width - len(r)))
    h = _header_row(rows)
    names = _header_names(rows, h) if rows else []
    kept = [(h + 2 + i, r) for i, r in enumerate(rows[h + 1 :]) if _distinct_labels(r)]
    numbers = np.array([n for n, _ in kept], dtype=np.int64)
    columns: dict[str, list[Any]] = {}
    for j, label in enumerate(names):
        values = [r[j] for _, r in kept]
        if label is None:
            if all(_tables.is_blank(v) for v in values):
                continue  # a blank column
            label = f"column {get_column_letter(j + 1)}"
        if label in columns:
            label = f"{label} ({get_column_letter(j + 1)})"
        columns[label] = values
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}, index=range(len(kept)))
    return Sheet(name, frame, numbers)
