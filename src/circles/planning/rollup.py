"""Roll-ups of coverage from the planning unit (小区 compound, one row of the community table) to the
units planners report in: 社区 (community), 街道 (street / sub-district) and 区 (district).

The plan counts its circles by 小区 (5 min), 社区 (10 min) and 街道 (15 min); a community planner reports
per 社区 and 街道. Every figure is a sum of member rows, so totals agree with the row table: weight
covered and uncovered (residents, or m² of residential area when no population is known — the
``weight_kind`` says which), members short of the target, and the worst members by covered share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: ``group_by`` values: the row itself, then the administrative levels above it.
GROUP_LEVELS = ("compound", "community", "street", "district")
#: Column of the community table holding each level's name (``compound`` is the row's own name).
GROUP_COLUMNS = {"compound": "name", "community": "community", "street": "street", "district": "district"}
GROUP_LABELS = {
    "compound": "小区 compound",
    "community": "社区 community",
    "street": "街道 sub-district",
    "district": "区 district",
}
#: Members named in ``worst_members`` per group.
WORST_LISTED = 3
#: Group name of rows whose level is not known (blank column).
UNKNOWN_GROUP = "（未知 unknown）"

ROLLUP_COLUMNS = [
    "group",
    "level",
    "members",
    "members_applicable",
    "members_short",
    "total_weight",
    "covered_weight",
    "uncovered_weight",
    "covered_share",
    "worst_members",
]


def group_names(communities: pd.DataFrame, group_by: str) -> pd.Series:
    """Each community row's group name at ``group_by`` (blank -> :data:`UNKNOWN_GROUP`)."""
    if group_by not in GROUP_LEVELS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_LEVELS)}, not {group_by!r}")
    col = GROUP_COLUMNS[group_by]
    if col not in communities:
        return pd.Series(UNKNOWN_GROUP, index=communities.index, dtype=object)

    def one(v: object) -> str:
        text = v.strip() if isinstance(v, str) else ""
        return text or UNKNOWN_GROUP

    return pd.Series([one(v) for v in communities[col]], index=communities.index, dtype=object)


def rollup(
    rows: pd.DataFrame,
    communities: pd.DataFrame,
    group_by: str,
    *,
    target_share: float | pd.Series,
) -> pd.DataFrame:
    """Sum per-row coverage of ONE category into groups.

    ``rows``: one row per community row with ``community_row`` (position in ``communities``),
    ``applies`` (bool), ``total_weight`` and ``covered_weight`` (residents or m²). ``target_share``:
    the share a member must reach not to count as short (a number, or per row). Groups are sorted by
    uncovered weight, largest first. Members the category does not apply to are counted in ``members``
    only.
    """
    groups = group_names(communities, group_by).to_numpy()
    r = rows.reset_index(drop=True)
    row_pos = r["community_row"].to_numpy(dtype=np.int64)
    applies = r["applies"].to_numpy(dtype=bool)
    total = np.where(applies, r["total_weight"].to_numpy(dtype=float), 0.0)
    covered = np.where(applies, r["covered_weight"].to_numpy(dtype=float), 0.0)
    share = np.divide(covered, total, out=np.full(len(r), np.nan), where=total > 0)
    target = np.broadcast_to(np.asarray(target_share, dtype=float), share.shape)
    frame = pd.DataFrame(
        {
            "group": groups[row_pos],
            "member": communities["name"].astype(str).to_numpy()[row_pos],
            "applies": applies,
            "short": applies & (total > 0) & (share < target - 1e-12),
            "total_weight": total,
            "covered_weight": covered,
            "share": share,
        }
    )
    agg = frame.groupby("group", sort=False).agg(
        members=("member", "size"),
        members_applicable=("applies", "sum"),
        members_short=("short", "sum"),
        total_weight=("total_weight", "sum"),
        covered_weight=("covered_weight", "sum"),
    )
    agg["uncovered_weight"] = agg["total_weight"] - agg["covered_weight"]
    agg["covered_share"] = np.divide(
        agg["covered_weight"],
        agg["total_weight"],
        out=np.full(len(agg), np.nan),
        where=agg["total_weight"].to_numpy() > 0,
    )
    agg["worst_members"] = _worst_members(frame).reindex(agg.index).fillna("")
    agg = agg.reset_index()
    agg.insert(1, "level", group_by)
    agg = agg.sort_values(["uncovered_weight", "group"], ascending=[False, True], kind="mergesort")
    return agg[ROLLUP_COLUMNS].reset_index(drop=True)


def _worst_members(frame: pd.DataFrame) -> pd.Series:
    """'甲小区 0%; 乙小区 12%; 丙小区 40%' per group: the short members with the lowest shares."""
    short = frame[frame["short"]].sort_values(["share", "member"], kind="mergesort")
    listed: dict[str, str] = {}
    for group, g in short.groupby("group", sort=False):
        pairs = zip(g["member"].to_numpy()[:WORST_LISTED], g["share"].to_numpy()[:WORST_LISTED])
        listed[str(group)] = "; ".join(f"{m} {100 * s:.0f}%" for m, s in pairs)
    return pd.Series(listed, dtype=object)
