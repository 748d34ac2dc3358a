"""Questions a planner asks of one plan, in the units they report in: coverage and gaps "within N
minutes" for any category, roll-ups per 社区 / 街道 / 区, districts written 成华 / 成华区 / Chenghua and
communities looked up by name.

Every function reads a :class:`~circles.pipeline.PlanResult` and returns new frames; the result is
never modified. Shares are fractions (0–1) of the weight the plan uses (residents, or m² of
residential area when it is area-weighted: ``result.data.weight_kind`` says which); times in minutes.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.districts import district_name, resolve_district
from .coverage import share_within
from .gaps import coverage_gaps, rank_gaps
from .rollup import GROUP_LEVELS, rollup

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import PlanResult

__all__ = [
    "ADMIN_COLUMNS",
    "MAX_MINUTES",
    "CommunityLookup",
    "coverage_at",
    "district_names",
    "districts_in",
    "find_community",
    "gaps_at",
    "planned_categories",
    "resolve_district_in",
    "rollup_at",
    "with_admin_columns",
]

#: Largest "within N minutes" asked (a walk of an hour is beyond any life circle).
MAX_MINUTES = 60.0
#: Columns of the community table naming the 社区 and 街道 a row belongs to (when the file gives them).
ADMIN_COLUMNS = ("community", "street")
#: Near matches offered for a community name that is not found.
NEAR_MATCHES = 5


#: Shortest threshold a question may ask about, minutes (a few seconds' walk; below it shares are noise).
MIN_MINUTES = 0.1


def _check_minutes(minutes: float) -> float:
    m = float(minutes)
    if not (math.isfinite(m) and MIN_MINUTES <= m <= MAX_MINUTES):
        raise InputError(f"minutes must be a number in [{MIN_MINUTES:g}, {MAX_MINUTES:g}], got {minutes!r}")
    return m


#: Largest "within N metres" asked, and the shortest (metres of network distance).
MAX_WALK_M = 5000.0
MIN_WALK_M = 10.0


def _check_walk_m(walk_m: float | None) -> float:
    m = float(walk_m) if walk_m is not None else math.nan
    if not (math.isfinite(m) and MIN_WALK_M <= m <= MAX_WALK_M):
        raise InputError(f"walk_m must be in [{MIN_WALK_M:g}, {MAX_WALK_M:g}] metres, got {walk_m!r}")
    return m


def planned_categories(result: PlanResult) -> list[str]:
    """Keys of the categories the plan computed coverage for, in catalog order."""
    present = set(result.coverage["category"].unique())
    return [k for k in result.data.catalog.keys() if k in present]


def coverage_at(
    result: PlanResult, category: str, minutes: float | None = None, *, walk_m: float | None = None
) -> pd.DataFrame:
    """The coverage rows of ``category`` (one per community row, in table order), judged within
    ``minutes`` of the nearest facility: ``threshold_min``, ``covered_share`` and ``covered_weight`` are
    those of ``minutes`` (each community on its own travel profile); the target share, the shares at the
    5/10/15-minute levels and the nearest facility are the plan's. ``minutes=None``: the category's own
    thresholds (the plan's rows as they are). An :class:`InputError` for a category the plan did not
    compute or ``minutes`` outside (0, 60]. ``walk_m`` instead of ``minutes``: judged within that network
    distance (metres, each community on its own profile's ways): ``measure`` is ``distance`` and the
    threshold ``threshold_m``."""
    cov = result.coverage
    rows = cov[cov["category"] == category].sort_values("community_row", kind="stable")
    rows = rows.reset_index(drop=True)
    if category not in result.times or rows.empty:
        raise InputError(f"category {category!r} was not part of this plan")
    if minutes is not None and walk_m is not None:
        raise InputError("give minutes or walk_m, not both")
    if minutes is None and walk_m is None:
        return rows
    types = result.data.communities["type"].to_numpy().astype(str)
    if minutes is not None:
        m = _check_minutes(minutes)
        share = share_within(result.times[category], result.engine.points, types, m)
        rows["threshold_min"], rows["threshold_m"], rows["measure"] = m, math.nan, "time"
    else:
        metres = _check_walk_m(walk_m)
        share = share_within(result.times[category], result.engine.points, types, walk_m=metres)
        rows["threshold_min"], rows["threshold_m"], rows["measure"] = math.nan, metres, "distance"
    share = share[rows["community_row"].to_numpy(dtype=np.int64)]
    total = rows["total_weight"].to_numpy(dtype=float)
    rows["covered_share"] = share
    rows["covered_weight"] = np.where(total > 0, np.nan_to_num(share) * total, 0.0)
    return rows


def gaps_at(
    result: PlanResult,
    minutes: float | None,
    categories: Sequence[str] | None = None,
    *,
    walk_m: float | None = None,
) -> pd.DataFrame:
    """The ranked gap list with coverage gaps judged within ``minutes`` (for the ``categories`` given,
    default every planned one): a community is short when its covered share within ``minutes`` is
    below its target share. Capacity gaps (floor area, independent of minutes) are kept as the plan
    found them. ``minutes=None``: the plan's own gap list (restricted to ``categories``). ``walk_m``
    instead of ``minutes``: judged within that network distance (metres)."""
    keys = list(categories) if categories is not None else planned_categories(result)
    gaps = result.gaps
    if minutes is None and walk_m is None:
        return gaps if categories is None else gaps[gaps["category"].isin(keys)].reset_index(drop=True)
    cov = pd.concat([coverage_at(result, k, minutes, walk_m=walk_m) for k in keys], ignore_index=True)
    data = result.data
    coverage = coverage_gaps(cov, data.communities, data.catalog, data.weight_kind)
    capacity = gaps[(gaps["kind"] == "capacity") & gaps["category"].isin(keys)]
    return rank_gaps(coverage, capacity)


def rollup_at(
    result: PlanResult,
    group_by: str,
    categories: Sequence[str],
    *,
    minutes: float | None = None,
    walk_m: float | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Coverage of each of ``categories`` rolled up to ``group_by`` (``compound``, ``community`` (社区),
    ``street`` (街道) or ``district`` (区)) by :func:`circles.planning.rollup.rollup`, judged within
    ``minutes`` (None: each category's own thresholds); ``rows``: a boolean mask over the community
    table restricting the members (e.g. one district). One row per category and group, with
    ``category``, ``category_zh``, ``threshold_min`` and ``threshold_m`` (NaN where thresholds differ by
    community type or are in the other measure; ``walk_m`` judges within that distance instead of
    ``minutes``), ``target_share`` (likewise) and ``weight_kind`` (what the weights count: residents or
    m² of area)."""
    if group_by not in GROUP_LEVELS:
        raise InputError(f"group_by must be one of {', '.join(GROUP_LEVELS)}, not {group_by!r}")
    comm = result.data.communities
    frames = []
    for key in categories:
        cov = coverage_at(result, key, minutes, walk_m=walk_m)
        if rows is not None:
            cov = cov[rows[cov["community_row"].to_numpy(dtype=np.int64)]]
        table = rollup(cov, comm, group_by, target_share=cov["target_share"].to_numpy(dtype=float))
        applied = cov[cov["applies"]]
        table.insert(0, "category", key)
        table.insert(1, "category_zh", result.data.catalog.get(key).name_zh)
        table["threshold_min"] = _single(applied["threshold_min"])
        has_m = "threshold_m" in applied
        table["threshold_m"] = _single(applied["threshold_m"]) if has_m else math.nan
        table["target_share"] = _single(applied["target_share"])
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["category", "category_zh", "group", "level", "weight_kind"])
    out = pd.concat(frames, ignore_index=True)
    out["weight_kind"] = result.data.weight_kind
    return out


def _single(values: pd.Series) -> float:
    """The value when all are equal, else NaN."""
    distinct = pd.unique(values.dropna())
    return float(distinct[0]) if len(distinct) == 1 else math.nan


def with_admin_columns(result: PlanResult, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with a ``community_id`` column) with the 社区 (``community``) and 街道 (``street``) of
    each row's community, where the community table names them; a copy."""
    comm = result.data.communities
    out = frame.copy()
    index = pd.Index(comm["community_id"].astype(str))
    ids = out["community_id"].astype(str)
    for col in ADMIN_COLUMNS:
        if col in comm and col not in out:
            out[col] = pd.Series(comm[col].to_numpy(), index=index).reindex(ids).to_numpy()
    return out


# --- districts ------------------------------------------------------------------------------------


def district_names(values: Iterable[object]) -> np.ndarray:
    """The official name of each district value (成华 / Chenghua -> 成华区); other non-blank values as
    written (stripped), blanks as ``''``."""
    out = []
    for v in values:
        text = v.strip() if isinstance(v, str) else ""
        out.append((district_name(text) or text) if text else "")
    return np.array(out, dtype=object)


def districts_in(result: PlanResult) -> list[str]:
    """The districts the plan's communities lie in (official names where recognised), sorted."""
    comm = result.data.communities
    if "district" not in comm:
        return []
    return sorted({d for d in district_names(comm["district"]) if d})


def resolve_district_in(result: PlanResult, text: str) -> str:
    """The district of the plan that ``text`` names (成华, 成华区, Chenghua, or a name as the
    communities write it); an :class:`InputError` listing the plan's districts otherwise."""
    known = districts_in(result)
    plain = text.strip()
    if plain in known:
        return plain
    return resolve_district(text, known=known)


# --- communities by id or name ------------------------------------------------------------------


def _plain(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


@dataclass(frozen=True)
class CommunityLookup:
    """Which rows of the community table a text names: ``matched_by`` is ``id`` (one row), ``name``
    (the rows with that name), ``community`` (the rows of that 社区) or ``none``, then ``near`` holds
    the closest names (difflib)."""

    rows: tuple[int, ...]
    matched_by: str
    near: tuple[str, ...] = ()


def find_community(communities: pd.DataFrame, text: str) -> CommunityLookup:
    """Rows of ``communities`` that ``text`` names: by id, else by exact name (Unicode-normalised, outer
    spaces ignored), else by 社区 (``community`` column). No match: the nearest names."""
    ids = communities["community_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == text)
    if len(hit):
        return CommunityLookup((int(hit[0]),), "id")
    key = _plain(text)
    candidates: list[str] = []
    for col, how in (("name", "name"), ("community", "community")):
        if col not in communities:
            continue
        values = np.array([_plain(v) if isinstance(v, str) else "" for v in communities[col]], dtype=object)
        hit = np.flatnonzero(values == key)
        if len(hit):
            return CommunityLookup(tuple(int(i) for i in hit), how)
        candidates += [v for v in values if v]
    near = difflib.get_close_matches(key, list(dict.fromkeys(candidates)), n=NEAR_MATCHES, cutoff=0.5)
    return CommunityLookup((), "none", tuple(near))


# --- tables with their communities' names -----------------------------------------------------


def present_levels(result: PlanResult) -> list[str]:
    """The administrative levels (社区, 街道, 区) the communities name."""
    comm = result.data.communities
    out = []
    for level in ("community", "street", "district"):
        if level in comm and comm[level].map(lambda v: isinstance(v, str) and bool(v.strip())).any():
            out.append(level)
    return out


def labelled_coverage(result: PlanResult, rows: pd.DataFrame) -> pd.DataFrame:
    """Coverage rows with their community's id, name, district, 社区 and 街道."""
    comm = result.data.communities
    pos = rows["community_row"].to_numpy(dtype=np.int64)
    out = rows.copy()
    out.insert(0, "community_id", comm["community_id"].astype(str).to_numpy()[pos])
    out.insert(1, "community_name", comm["name"].to_numpy()[pos])
    out.insert(2, "district", comm["district"].to_numpy()[pos] if "district" in comm else "")
    for col in ADMIN_COLUMNS:
        if col in comm:
            out[col] = comm[col].to_numpy()[pos]
    return out
