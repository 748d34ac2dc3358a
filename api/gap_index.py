"""A gap list of one published result as numpy columns (for filters) and JSON-ready rows (for pages)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from circles._common import jsonable
from circles.errors import InputError
from circles.pipeline import PlanResult
from circles.planning.queries import district_names, with_admin_columns


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


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows of ``frame`` (as ``[jsonable(r) for r in frame.to_dict("records")]``, faster)."""
    keys = [str(c) for c in frame.columns]
    columns = [_json_column(frame[c]) for c in frame.columns]
    return [dict(zip(keys, row)) for row in zip(*columns)] if len(frame) else []


class GapIndex:
    """A gap list of one published result as numpy columns (for filters) and JSON-ready dicts (for
    pages), so a query costs a mask and a slice, not a DataFrame round trip. ``gaps``: the plan's list
    or one judged within other minutes (:func:`circles.planning.queries.gaps_at`); rows carry their
    community's 社区 and 街道 where known."""

    def __init__(self, result: PlanResult, gaps: pd.DataFrame):
        g = with_admin_columns(result, gaps)
        self.result = result
        self.gaps = g
        self.category = g["category"].to_numpy().astype(str)
        self.level_min = g["level_min"].to_numpy()
        self.district = district_names(g["district"].fillna("")).astype(str)
        self.kind = g["kind"].to_numpy().astype(str)
        self.uncovered_residents = g["uncovered_residents"].fillna(0).to_numpy(dtype=float)
        self.uncovered_area_m2 = g["uncovered_area_m2"].fillna(0).to_numpy(dtype=float)
        self.records: list[dict[str, Any]] = json_records(g)

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
        mask = np.ones(len(self.records), dtype=bool)
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
