"""Reading a delimited text table of points (CSV, TSV) in bounded memory.

Private to :mod:`circles.io` (used by :mod:`._files`). The encoding (UTF-8, UTF-16 with a byte order
mark, else GB18030) and the delimiter (``,`` ``;`` tab ``|``) are sniffed from the first
:data:`SNIFF_BYTES`; the header is the first of the first :data:`circles.io._tables.HEADER_SEARCH_ROWS`
records holding both a longitude and a latitude header (a title line above it is skipped). The records
are then read :data:`CHUNK_ROWS` at a time as text, the two coordinate columns parsed to numbers chunk
by chunk, so memory holds the other cells once and never the whole file's text.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataFileError
from . import _tables

log = logging.getLogger(__name__)

#: Bytes read to guess the encoding, the delimiter and the header row.
SNIFF_BYTES = 64 * 1024
#: Records parsed per chunk (about 20-40 MB of text for a table of points).
CHUNK_ROWS = 200_000
#: Delimiters a table may use.
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class CsvLayout:
    """How a delimited file is written: ``encoding``, ``sep``, ``skip_lines`` (lines above the header
    row, e.g. a title) and the header's ``columns`` as pandas names them."""

    encoding: str
    sep: str
    skip_lines: int
    columns: tuple[Any, ...]


def _encoding(sample: bytes) -> str:
    """UTF-16 or UTF-8 by byte order mark; else UTF-8 if the sample decodes (a character cut at the end
    of the sample is allowed), else GB18030."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 3:
            return "gb18030"
    return "utf-8-sig"


def _delimiter(lines: list[str]) -> str:
    """The delimiter of the first lines (csv.Sniffer over several lines, then over the first; ',')."""
    for text in ("\n".join(lines), lines[0] if lines else ""):
        try:
            return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
        except csv.Error:
            continue
    return ","


def _header_line(lines: list[str], sep: str) -> int:
    """Lines above the header: those before the first record that has a longitude and a latitude
    header; failing that, before the first record of two or more cells (not a title); else 0."""
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=sep, skipinitialspace=True)
    start, first_wide = 0, None
    for _ in range(_tables.HEADER_SEARCH_ROWS):
        try:
            cells = next(reader)
        except (StopIteration, csv.Error):
            break
        if _tables.has_lonlat_headers(cells):
            return start
        if first_wide is None and len({c.strip() for c in cells if c.strip()}) >= 2:
            first_wide = start
        start = reader.line_num
    return first_wide or 0


def sniff_layout(path: Path) -> CsvLayout:
    """The :class:`CsvLayout` of ``path``, from its first :data:`SNIFF_BYTES`."""
    try:
        with open(path, "rb") as f:
            sample = f.read(SNIFF_BYTES)
    except OSError as e:
        raise DataFileError(f"{path}: cannot read ({e.strerror or e})") from e
    if not sample.strip():
        raise DataFileError(f"{path}: the file is empty")
    encoding = _encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    lines = text.splitlines()[: _tables.HEADER_SEARCH_ROWS + 1]
    if len(sample) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of a full sample may be cut
    sep = _delimiter(lines)
    skip = _header_line(lines, sep)
    try:
        header = pd.read_csv(
            path, sep=sep, encoding=encoding, nrows=0, skiprows=skip, header=0, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise DataFileError(f"{path}: not a readable CSV file ({e})") from e
    return CsvLayout(encoding, sep, skip, tuple(header.columns))


def read_points(
    path: Path, layout: CsvLayout, lon_col: Any, lat_col: Any, numeric: Sequence[Any] = ()
) -> _tables.PointTable:
    """The records of ``path`` as a :class:`~circles.io._tables.PointTable`. Records are numbered from 1.

    First the coordinate columns and the ``numeric`` ones are parsed as plain numbers by the C parser,
    the other cells kept as text (no text is held for the numbers); if a cell is not a plain number
    (text, a thousands separator, full-width digits), the file is read again with every cell as text
    and :func:`~circles.io._tables.numbers` names or reads each such cell."""
    try:
        return _read_either(path, layout, lon_col, lat_col, (lon_col, lat_col, *numeric))
    except _NotPlainNumbers:
        log.debug("%s: not all numbers are plain; reading every cell as text", path)
        return _read_either(path, layout, lon_col, lat_col, ())


class _NotPlainNumbers(Exception):
    """A cell of a column read as numbers is not a plain number."""


def _read_either(
    path: Path, layout: CsvLayout, lon_col: Any, lat_col: Any, numeric: Sequence[Any]
) -> _tables.PointTable:
    """:func:`_read_chunks` in the sniffed encoding, or GB18030 when UTF-8 fails past the sample."""
    try:
        return _read_chunks(path, layout, lon_col, lat_col, numeric)
    except UnicodeDecodeError as e:
        if layout.encoding != "utf-8-sig":
            raise DataFileError(f"{path}: not {layout.encoding} text ({e})") from e
        log.info("%s: not UTF-8 past the first %d KB; reading it as GB18030", path, SNIFF_BYTES // 1024)
        gb = CsvLayout("gb18030", layout.sep, layout.skip_lines, layout.columns)
        try:
            return _read_chunks(path, gb, lon_col, lat_col, numeric)
        except UnicodeDecodeError as e2:
            raise DataFileError(f"{path}: neither UTF-8 nor GB18030 text ({e2})") from e2


def _read_chunks(
    path: Path, layout: CsvLayout, lon_col: Any, lat_col: Any, numeric: Sequence[Any]
) -> _tables.PointTable:
    """Read :data:`CHUNK_ROWS` records at a time: ``numeric`` columns as float64 (blank: NaN), the rest
    as text; each chunk becomes a PointTable at once, so no chunk's coordinate text is kept."""
    parts: list[_tables.PointTable] = []
    first = 1
    dtype = {c: ("float64" if c in numeric else str) for c in layout.columns}
    try:
        with pd.read_csv(
            path,
            sep=layout.sep,
            encoding=layout.encoding,
            skiprows=layout.skip_lines,
            header=0,
            dtype=dtype,
            keep_default_na=False,
            na_values={c: [""] for c in numeric},
            skipinitialspace=True,
            chunksize=CHUNK_ROWS,
        ) as reader:
            for chunk in reader:
                if tuple(chunk.columns) != layout.columns:  # pragma: no cover - same header each chunk
                    raise DataFileError(f"{path}: the header changed while reading")
                numbers = pd.RangeIndex(first, first + len(chunk)).to_numpy()
                parts.append(_tables.PointTable.from_frame(chunk, lon_col, lat_col, numbers))
                first += len(chunk)
    except (UnicodeDecodeError, DataFileError):
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        if numeric:  # a cell that is not a plain number (or a broken file: the text pass will say)
            raise _NotPlainNumbers from e
        raise DataFileError(f"{path}: not a readable CSV file ({e})") from e
    return _tables.PointTable.concat(parts, lon_col, lat_col)
