"""Tiles with a halo: the grid gives every community one tile, the clip keeps what it must, trips never
outrun the bound, and a tiled city's coverage equals the whole city's bit for bit — while a halo
missing a term of the bound gets it wrong."""

from __future__ import annotations

import numpy as np
import pytest
from batch_cities import (
    assert_same_rows,
    plan_options,
    random_city,
    random_network,
    street_city,
    tiled_and_whole,
)

from circles.batch.tiling import (
    HaloBound,
    clip_network,
    halo_bound,
    horizon_s,
    tile_grid,
)
from circles.catalog import load_catalog
from circles.config import get_profile
from circles.routing.graph import DEFAULT_MIN_SNAP_COMPONENT_M, ProfileGraph
from circles.routing.network import StreetNetwork

from grids import X0, Y0


def test_tile_grid_gives_every_point_exactly_one_tile():
    rng = np.random.default_rng(1)
    xy = np.column_stack([X0 + rng.uniform(0, 9000, 500), Y0 + rng.uniform(0, 7000, 500)])
    xy[:3] = [[X0, Y0], [X0 + 9000, Y0 + 7000], [X0 + 3000, Y0 + 3000]]  # extent corners, a tile edge
    tiles = tile_grid(xy, 3000.0)
    assert len(tiles) >= 4
    owner = np.full(len(xy), -1)
    for t in tiles:
        rows = np.array(t.community_rows)
        assert (owner[rows] == -1).all()
        owner[rows] = t.index
        x0, y0, x1, y1 = t.box_m
        assert ((xy[rows, 0] >= x0) & (xy[rows, 0] <= x1) & (xy[rows, 1] >= y0) & (xy[rows, 1] <= y1)).all()
    assert (owner >= 0).all()
    # a point on an inner edge belongs to the tile above and to the right of it
    assert tiles[owner[2]].box_m[:2] == (X0 + 3000, Y0 + 3000)
    assert [t.index for t in tiles] == list(range(len(tiles)))
    assert len(tile_grid(xy, 20_000.0)) == 1


def test_clip_keeps_every_segment_that_meets_the_box_unchanged():
    # a long segment crossing the box with both ends outside it, one inside, one outside
    xy = np.array([[0, 50], [1000, 50], [10, 10], [20, 20], [500, 500], [600, 600]], dtype=float) + [X0, Y0]
    net = StreetNetwork.from_segments(xy, [0, 2, 4], [1, 3, 5], steps=np.array([True, False, False]))
    clipped = clip_network(net, (X0 + 100, Y0, X0 + 200, Y0 + 100))
    assert clipped.n_segments == 1 and clipped.n_nodes == 2
    assert clipped.seg_len_m[0] == net.seg_len_m[0] and clipped.steps[0]
    assert np.array_equal(clipped.node_xy[[clipped.seg_u[0], clipped.seg_v[0]]], xy[[0, 1]])
    both = clip_network(net, (X0, Y0, X0 + 30, Y0 + 60))
    assert both.n_segments == 2 and np.array_equal(both.seg_len_m, net.seg_len_m[:2])


def test_halo_bound_is_reach_plus_snap_plus_smallest_snappable_piece():
    b = HaloBound(horizon_s=900.0, speed_m_s=1.1, max_snap_m=500.0)
    assert b.reach_m == pytest.approx(990.0)
    assert b.halo_m == pytest.approx(990.0 + 500.0 + DEFAULT_MIN_SNAP_COMPONENT_M)
    cat = load_catalog()
    assert horizon_s(cat, None, ["urban"]) == 900.0  # the 15-minute level is always reported
    assert horizon_s(cat, ["canteen"], ["urban"], horizon_min=30) == 1800.0


@pytest.mark.parametrize("profile", ["walk", "elderly", "bike"])
def test_no_trip_within_the_horizon_leaves_the_reach(tmp_path, profile):
    """The bound's first step, checked on a random city: a trip of t seconds — off-street legs, part
    segments, whole segments, staircases, one-way cycle streets — ends within t x speed (straight line)
    of where it started, the speed being the fastest of the graph's street and off-street speeds."""
    rng = np.random.default_rng(7)
    g = ProfileGraph(random_network(rng, 30, 100.0), get_profile(profile))
    speed = halo_bound({profile: g}, [profile], 900.0, 500.0).speed_m_s
    assert speed >= g.profile.speed_m_s
    starts = np.array([X0, Y0]) + rng.uniform(0, 3000, (40, 2))
    ends = np.array([X0, Y0]) + rng.uniform(0, 3000, (400, 2))
    end_snap = g.snap(ends, strict=False)
    checked = 0
    for reverse in (False, True):
        for xy in starts:
            snap = g.snap(xy[None, :], strict=False)
            times = g.search(snap, reverse=reverse)
            t_node = times.time_s
            near = np.isfinite(t_node)
            d_node = np.hypot(*(g.net.node_xy[near] - xy).T)
            assert (d_node <= t_node[near] * speed + 1e-6).all()
            t_end, _ = times.at(end_snap)
            ok = np.isfinite(t_end)
            assert (np.hypot(*(ends[ok] - xy).T) <= t_end[ok] * speed + 1e-6).all()
            checked += int(ok.sum())
    assert checked > 1000


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tiled_city_equals_the_whole_city(tmp_path, seed):
    """Random cities (seed 3 has rural communities, which cycle) cut into 8-9 tiles: every column of
    every community and category is equal bit for bit (shares, weights, nearest times, serving
    facility). Odd seeds weight by area, even ones by people."""
    data = random_city(tmp_path, seed, rural=seed == 3)
    merged, single, n_tiles = tiled_and_whole(data, plan_options(), 1500.0)
    assert n_tiles >= 4
    assert_same_rows(merged, single)
    assert 0 < np.isfinite(single["nearest_time_s"]).mean() < 1  # some within the horizon, some beyond
    assert (single["covered_share"] > 0).any() and (single["covered_share"] < 1).any()


def test_a_halo_shorter_than_the_reach_misses_a_facility(tmp_path):
    # one street; the canteen is 950 m (863.6 s) along it: inside 15 minutes
    data = street_city(tmp_path, [((-500, 0), (2500, 0), 50)], {"p": (0, 0)}, {"g": ("canteen", 950, 0)})
    opts = plan_options(max_snap_m=50.0)
    merged, single, _ = tiled_and_whole(data, opts, 1000.0)
    assert_same_rows(merged, single)
    canteen = single["category"] == "canteen"
    assert single.loc[canteen, "share_15"].item() == 1.0
    short, _, _ = tiled_and_whole(data, opts, 1000.0, halo_m=900.0)
    assert short.loc[canteen, "share_15"].item() == 0.0


def test_a_halo_without_the_island_term_snaps_a_facility_to_the_wrong_street(tmp_path):
    """Street A serves the resident; street B (1.1 km, not connected to A) passes 10 m from the canteen,
    A 20 m from it. The canteen joins B and cannot reach the resident. A halo of reach + snap only cuts
    B to a 180 m piece, which the tile counts as an island that takes no start points: the canteen then
    joins A and "covers" the resident. The full halo keeps 480 m of B and the right answer."""
    streets = [((-1000, 0), (3000, 0), 50), ((880, 30), (2000, 30), 20)]
    data = street_city(tmp_path, streets, {"p": (0, 5)}, {"f": ("canteen", 900, 20)})
    opts = plan_options(max_snap_m=50.0)
    merged, single, _ = tiled_and_whole(data, opts, 1000.0)
    assert_same_rows(merged, single)
    canteen = single["category"] == "canteen"
    assert single.loc[canteen, "share_15"].item() == 0.0
    bound = HaloBound(900.0, 1.1, 50.0)
    wrong, _, _ = tiled_and_whole(data, opts, 1000.0, halo_m=bound.reach_m + bound.max_snap_m)
    assert wrong.loc[canteen, "share_15"].item() == 1.0


def test_clip_never_makes_a_street_snappable_that_the_region_calls_an_island():
    """Clipped pieces are parts of the region's components, never longer: no point finds a nearer
    street in a tile than in the region; and deep inside the box (snap distance + the smallest
    snappable piece from its edge) every point finds the same street."""
    rng = np.random.default_rng(3)
    net = random_network(rng, 30, 100.0)
    g = ProfileGraph(net, get_profile("walk"))
    c = ProfileGraph(clip_network(net, (X0 + 700, Y0 + 700, X0 + 2100, Y0 + 2100)), get_profile("walk"))
    probes = np.array([X0, Y0]) + rng.uniform(600, 2200, (400, 2))
    sg, sc = g.snap(probes, max_snap_m=100.0, strict=False), c.snap(probes, max_snap_m=100.0, strict=False)
    ok = sc.seg >= 0
    assert (sg.seg[ok] >= 0).all()
    assert (sc.offstreet_m[ok] >= sg.offstreet_m[ok]).all()
    deep = ((probes >= [X0 + 1100, Y0 + 1100]) & (probes <= [X0 + 1700, Y0 + 1700])).all(axis=1)
    assert deep.sum() > 20
    assert np.array_equal(sc.offstreet_m[deep], sg.offstreet_m[deep])
    assert np.array_equal(sc.street_xy[deep], sg.street_xy[deep])
