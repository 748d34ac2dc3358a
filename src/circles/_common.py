"""Small utilities every stage shares: the WGS84 CRS name, bounding boxes, atomic file writes and
JSON-safe values. One home for each, imported by module name (``from circles._common import ...``)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

#: Geographic WGS84 (lon/lat degrees): every layer the library returns and every web output.
WGS84 = "EPSG:4326"

#: (min_lon, min_lat, max_lon, max_lat) in WGS84 degrees.
BBox = tuple[float, float, float, float]


def check_bbox(bbox: Iterable[float] | None) -> BBox | None:
    """``bbox`` as four finite floats with min < max inside the WGS84 range, or None for None.
    Anything else is an :class:`InputError` naming the expected form."""
    if bbox is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"bbox must be (min_lon, min_lat, max_lon, max_lat) in degrees (got {bbox!r})"
        ) from e
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x0 >= x1 or y0 >= y1:
        raise InputError(f"bbox must be (min_lon, min_lat, max_lon, max_lat) with min < max (got {bbox!r})")
    if not (-180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90):
        raise InputError(f"bbox must be in WGS84 degrees (got {bbox!r})")
    return (x0, y0, x1, y1)


def bbox_text(bbox: Iterable[float]) -> str:
    """'(lon 103.9..104.2, lat 30.5..30.8)' for messages."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return f"(lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f})"


def atomic_write(path: str | Path, write: Callable[[Path], object], *, mode: int = 0o644) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` and move it into place in one step, so
    readers never see a half-written file; the temporary file is removed if ``write`` fails. Parent
    folders are created. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value``: numpy scalars and arrays to Python, NaN/inf/NA to None, tuples to
    lists, dict keys to str; other objects unchanged (``json_default`` turns leftovers into str)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, (str, int)):
        return value
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def json_default(obj: Any) -> Any:
    """``default=`` for :func:`json.dumps`: numpy scalars to Python (non-finite floats to None), else str."""
    cleaned = jsonable(obj)
    return cleaned if cleaned is not obj else str(obj)


def string_values(column: Any, missing: str | None = None) -> np.ndarray:
    """A pandas column as Python strings in an object array (``astype(str)``, after ``fillna(missing)``
    unless None), read as it is when it holds strings only (the common case: no conversion)."""
    import pandas as pd

    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    filled = column if missing is None else column.fillna(missing)
    return filled.astype(str).to_numpy(dtype=object)
