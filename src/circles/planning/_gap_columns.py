"""Reading the columns of coverage rows for the gap list (:mod:`.gaps`): from the coverage table at some
positions (:class:`Taken`), or from the columns :func:`~circles.planning.coverage.coverage_columns` gave
before they became a frame (:class:`Given`). Both give what ``frame.iloc[rows][name].to_numpy()`` gives,
reading only the columns asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import _frames


def short_rows(coverage: pd.DataFrame, among: np.ndarray | None) -> np.ndarray:
    """Positions of the coverage rows (among ``among``; all: None) that apply and fall short of their
    target share."""
    applies, covered, target = (coverage[c] for c in ("applies", "covered_share", "target_share"))
    plain = applies.dtype == bool and covered.dtype == np.float64 and target.dtype == np.float64
    if among is None or not plain:
        short = (applies & (covered < target - 1e-9)).to_numpy()
        return np.flatnonzero(short if among is None else short & among)
    rows = np.flatnonzero(among)
    short = applies.to_numpy()[rows] & (covered.to_numpy()[rows] < target.to_numpy()[rows] - 1e-9)
    return rows[short]


class Taken:
    """Columns of ``frame`` at the positions ``rows``, as numpy arrays (what ``frame.iloc[rows][name]
    .to_numpy()`` gives, without taking the columns not asked for); each taken once."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray):
        self.frame = frame
        self.rows = rows
        self._taken: dict[tuple[str, bool], np.ndarray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.frame

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """The column ``name`` at the rows for a new frame: as :meth:`values`, but a string column
        without missing values stays a pandas string array (a frame built from the numpy strings would
        infer that same dtype back, converting every value)."""
        series = self.frame[name]
        if isinstance(series.dtype, pd.StringDtype) and series.dtype == _frames.INFERRED_STRING:
            taken = series.array.take(self.rows)
            if not taken.isna().any():
                return taken
        return self.values(name)

    def values(self, name: str) -> np.ndarray:
        """The column ``name`` at the rows, its dtype kept."""
        found = self._taken.get((name, False))
        if found is None:
            found = self._taken[(name, False)] = self.frame[name].array.take(self.rows).to_numpy()
        return found

    def floats(self, name: str, *, required: bool = False) -> np.ndarray:
        """The column ``name`` at the rows as floats; NaN everywhere when there is no such column (a
        ``KeyError`` if ``required``)."""
        if name not in self.frame and not required:
            return np.full(len(self.rows), np.nan)
        found = self._taken.get((name, True))
        if found is None:
            found = self._taken[(name, True)] = self.frame[name].to_numpy(dtype=float)[self.rows]
        return found


class Given:
    """The columns of coverage rows given as :func:`~circles.planning.coverage.coverage_columns` returns
    them (``blocks``, one per category, end to end) at the positions ``rows``: what :class:`Taken` gives of
    the frame those columns make, without making it."""

    def __init__(self, blocks: list[Mapping[str, Any]], rows: np.ndarray):
        self.blocks = blocks
        self.rows = rows
        self.sizes = [len(b["community_row"]) for b in blocks]

    def __contains__(self, name: str) -> bool:
        return name in self.blocks[0]

    def __len__(self) -> int:
        return len(self.rows)

    def _joined(self, name: str) -> np.ndarray:
        """The column ``name`` of the blocks end to end (a scalar repeated, strings as objects)."""
        parts = []
        for block, size in zip(self.blocks, self.sizes):
            value = block[name]
            if isinstance(value, np.ndarray):
                parts.append(value.astype(object) if value.dtype.kind == "U" else value)
            else:
                parts.append(np.full(size, value, dtype=object if isinstance(value, str) else None))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def values(self, name: str) -> np.ndarray:
        return self._joined(name)[self.rows]

    def column(self, name: str) -> np.ndarray:
        return self.values(name)

    def floats(self, name: str, *, required: bool = False) -> np.ndarray:
        if name not in self and not required:
            return np.full(len(self.rows), np.nan)
        return np.asarray(self._joined(name), dtype=float)[self.rows]
