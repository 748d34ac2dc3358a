"""Building the planning tables' frames from numpy columns (shared by :mod:`.coverage` and :mod:`.gaps`).

A frame built from a dict infers the dtype of each column of Python strings by looking at every value,
and repeats a string scalar by way of an object array: for the ~30-column tables of one re-planned
category that costs more than the numbers in them. :func:`frame` converts the columns whose dtype the
frame would infer as strings ahead, the same way, and builds the same frame (same dtypes, values and
index) a plain ``pd.DataFrame(columns)`` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: the dtype a frame infers for a column of Python strings (``str`` with pandas 3; object before)
INFERRED_STRING = pd.Series(["text"]).dtype


def frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` (numpy arrays, pandas arrays and scalars), with the columns of strings
    (all ``str``, no missing value; or one ``str`` scalar) converted ahead when there are rows."""
    arrays = (v for v in columns.values() if isinstance(v, np.ndarray | pd.api.extensions.ExtensionArray))
    n = len(next(arrays, ()))
    if not isinstance(INFERRED_STRING, pd.StringDtype) or not n:
        return pd.DataFrame(columns)
    return pd.DataFrame({name: _string_ahead(value, n) for name, value in columns.items()})


def _string_ahead(value: Any, n: int) -> Any:
    """``value`` as a string array when the frame would infer one from it, else as it is."""
    if isinstance(value, str):
        return pd.array(np.full(n, value, dtype=object), dtype=INFERRED_STRING)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU" and len(value):
        strings = value.astype(object) if value.dtype.kind == "U" else value
        if pd.api.types.infer_dtype(strings, skipna=False) == "string":
            return pd.array(strings, dtype=INFERRED_STRING)
    return value
