"""After an edit the gap index reuses the rows of the categories the edit did not change: the rows it
gives equal a full conversion of the new plan's gap list, for additions, deletions and with capacity
rows; where reuse is not possible (another community layer, another threshold) it converts afresh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from api.gap_index import GapIndex, cached_gap_index, gap_index_of
from api.settings import Settings
from api.state import ServiceState
from api.store import Actor

ACTOR = Actor("test", None)


def _gap_point(result, category: str) -> tuple[float, float]:
    """A point inside the first community short of ``category`` (WGS84 degrees)."""
    g = result.gaps
    cid = g[(g["category"] == category) & (g["kind"] == "coverage")]["community_id"].iloc[0]
    comm = result.data.communities
    pt = comm[comm["community_id"].astype(str) == str(cid)].geometry.iloc[0].representative_point()
    return round(pt.x, 6), round(pt.y, 6)


@pytest.fixture
def state(base_plan, tmp_path):
    s = ServiceState(Settings(state_dir=tmp_path / "s"), base=base_plan)
    yield s
    s.close()


def _assert_same_as_full(index: GapIndex) -> None:
    full = GapIndex(index.result, index.result.gaps)
    assert index.records == full.records
    assert index.items_json(np.arange(len(full.records))) == full.items_json(np.arange(len(full.records)))


def test_an_added_facility_reuses_the_other_categories_rows(state):
    before = state.result
    old_index = gap_index_of(before)
    lon, lat = _gap_point(before, "canteen")
    state.add_facility("canteen", lon, lat, "wgs84", "新食堂", 120.0, actor=ACTOR)
    after = state.result
    index = cached_gap_index(after)
    assert index is not None  # built by the writer right after publishing
    assert index.records != old_index.records  # the canteen changed its category's rows
    assert index._reused_records(old_index, {"canteen"}) is not None  # the reuse path, not a fallback
    _assert_same_as_full(index)
    # rows of other categories are copies of the old records with their rank renumbered
    park = [r for r in index.records if r["category"] == "park"]
    old_park = {(r["kind"], r["community_id"]): r for r in old_index.records if r["category"] == "park"}
    assert park and all(
        {**old_park[(r["kind"], r["community_id"])], "severity_rank": r["severity_rank"]} == r for r in park
    )


def test_a_chain_of_edits_and_a_deletion_keep_every_row_right(state):
    added = []
    for category in ("canteen", "park", "canteen"):
        lon, lat = _gap_point(state.result, category)
        answer = state.add_facility(category, lon, lat, "wgs84", None, None, actor=ACTOR)
        added.append(answer.body["facility"]["facility_id"])
        _assert_same_as_full(cached_gap_index(state.result))
    state.delete_facility(added[0], actor=ACTOR)
    _assert_same_as_full(cached_gap_index(state.result))


def test_no_reuse_across_community_layers_or_thresholds(base_plan, state):
    lon, lat = _gap_point(base_plan, "canteen")
    state.add_facility("canteen", lon, lat, "wgs84", None, None, actor=ACTOR)
    new = state.result
    old_index = gap_index_of(base_plan)
    # another community table (same rows, another object): converted afresh, still right
    other = dataclasses.replace(
        new, data=dataclasses.replace(new.data, communities=new.data.communities.copy())
    )
    fresh = GapIndex(other, other.gaps, previous=old_index, changed=["canteen"])
    assert fresh._reused_records(old_index, {"canteen"}) is None
    assert fresh.records == GapIndex(other, other.gaps).records
    # a previous index judged within other minutes is never reused for the plan's own list
    assert old_index._reused_records(old_index, set()) is not None  # the same basis reuses
    within = gap_index_of(base_plan, minutes=10.0)
    assert (
        GapIndex(new, new.gaps, previous=within, changed=["canteen"])._reused_records(within, set()) is None
    )


def test_reused_rows_whose_values_differ_are_refused(base_plan):
    """Rows said to be unchanged whose filter columns differ are not reused: every row is converted."""
    old_index = gap_index_of(base_plan)
    gaps = base_plan.gaps.copy()
    row = int(np.flatnonzero(gaps["uncovered_area_m2"].notna().to_numpy())[0])
    gaps.loc[row, "uncovered_area_m2"] = gaps.loc[row, "uncovered_area_m2"] + 1.0
    index = GapIndex(base_plan, gaps, previous=old_index, changed=[])
    assert index._reused_records(old_index, set()) is None
    assert index.records[row]["uncovered_area_m2"] == old_index.records[row]["uncovered_area_m2"] + 1.0


def test_an_index_and_its_file_encoders_are_freed_with_their_plan(base_plan):
    """The CSV/GeoJSON encoders kept with a gap index do not keep it (and its plan) alive."""
    import gc
    import weakref

    from api.read_tables import gap_files
    from circles.outputs.tables import GAP_COLUMNS

    index = GapIndex(base_plan, base_plan.gaps)
    files = gap_files(index, GAP_COLUMNS)
    assert gap_files(index, GAP_COLUMNS) is files
    assert files.csv(np.arange(3)).count("\n") >= 3
    gone = weakref.ref(index)
    del index, files
    gc.collect()
    assert gone() is None
