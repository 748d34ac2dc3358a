"""Exact travel times on hand-checkable synthetic networks."""

from __future__ import annotations

import numpy as np
import pytest

from circles.config import get_profile
from circles.errors import SnapError
from circles.routing.graph import ProfileGraph
from circles.routing.network import StreetNetwork

from grids import X0, Y0, grid_arrays, grid_network, node

SPEED = 1.1


def at_node(g, i):
    return g.snap(g.net.node_xy[[i]])


def test_k_blocks_away_is_reached_at_k_lengths_over_speed(grid_graph):
    start = node(21, 10, 10)
    t = grid_graph.search(at_node(grid_graph, start)).time_s
    for di, dj in [(1, 0), (3, 0), (0, 5), (4, 6), (-10, -10)]:
        k = abs(di) + abs(dj)
        assert t[node(21, 10 + di, 10 + dj)] == pytest.approx(k * 100 / SPEED, rel=1e-7)


def test_mid_segment_snap_walks_off_street_and_along_segment(walk):
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 100, Y0], [X0 + 200, Y0]], [0, 1], [1, 2])
    g = ProfileGraph(net, walk)
    snap = g.snap([[X0 + 30, Y0 + 20]])
    assert snap.seg[0] == 0 and snap.frac[0] == pytest.approx(0.3)
    assert snap.offstreet_m[0] == pytest.approx(20)
    t = g.search(snap).time_s
    assert t[0] == pytest.approx((20 + 30) / SPEED)
    assert t[1] == pytest.approx((20 + 70) / SPEED)
    assert t[2] == pytest.approx((20 + 170) / SPEED)


def test_target_on_the_same_segment_is_walked_directly(walk):
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 100, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    src = g.snap([[X0 + 20, Y0]])
    tgt = g.snap([[X0 + 60, Y0 + 5]])
    times = g.search(src)
    t, origin = times.at(tgt)
    assert t[0] == pytest.approx((40 + 5) / SPEED)  # not 20 + 60 via the ends
    assert origin[0] == 0


def test_multi_source_gives_nearest_source_and_its_time(grid_graph):
    srcs = grid_graph.snap(grid_graph.net.node_xy[[node(21, 0, 0), node(21, 20, 20)]])
    res = grid_graph.search(srcs)
    assert res.origin[node(21, 2, 3)] == 0
    assert res.origin[node(21, 18, 19)] == 1
    assert res.time_s[node(21, 18, 19)] == pytest.approx(3 * 100 / SPEED)
    # one reverse search (to the nearest source) equals the forward one when walking both ways
    rev = grid_graph.search(srcs, reverse=True)
    np.testing.assert_allclose(rev.time_s, res.time_s)


def test_river_without_bridge_is_unreachable(walk):
    # two 10x10 grids, 300 m of river between them, no bridge
    xy1, u1, v1 = grid_arrays(10, 10)
    xy2, u2, v2 = grid_arrays(10, 10, x0=X0 + 1200)
    net = StreetNetwork.from_segments(np.vstack([xy1, xy2]), np.r_[u1, u2 + 100], np.r_[v1, v2 + 100])
    g = ProfileGraph(net, walk)
    t = g.search(at_node(g, 0)).time_s
    assert np.isfinite(t[:100]).all()
    assert np.isinf(t[100:]).all()
    assert g.islands.n_components == 2 and g.islands.n_islands == 1
    assert g.islands.island_street_m == pytest.approx(2 * 9 * 10 * 100)


def test_wheelchair_cannot_take_steps():
    # A --steps 50 m-- B, and a 300 m detour A - C - D - B
    xy = [[X0, Y0], [X0 + 50, Y0], [X0, Y0 + 125], [X0 + 50, Y0 + 125]]
    net = StreetNetwork.from_segments(xy, [0, 0, 2, 3], [1, 2, 3, 1], steps=[True, False, False, False])
    walk = ProfileGraph(net, get_profile("walk"))
    chair = ProfileGraph(net, get_profile("wheelchair"))
    assert walk.search(at_node(walk, 0)).time_s[1] == pytest.approx(50 / 1.1)
    chair_speed = get_profile("wheelchair").speed_m_s
    assert chair.search(at_node(chair, 0)).time_s[1] == pytest.approx(300 / chair_speed)


def test_elderly_take_steps_at_reduced_speed():
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 45, Y0]], [0], [1], steps=[True])
    p = get_profile("elderly")
    g = ProfileGraph(net, p)
    assert g.search(at_node(g, 0)).time_s[1] == pytest.approx(45 / (p.speed_m_s * p.steps_speed_factor))


def test_bike_respects_oneway_but_walking_does_not():
    # 0 -> 1 oneway (100 m); 1 - 2 - 0 a 200 m loop both ways
    xy = [[X0, Y0], [X0 + 100, Y0], [X0 + 50, Y0 + 86.60254037844386]]
    net = StreetNetwork.from_segments(xy, [0, 1, 2], [1, 2, 0], bike_oneway=[1, 0, 0])
    bike = ProfileGraph(net, get_profile("bike"))
    v = get_profile("bike").speed_m_s
    fwd = bike.search(at_node(bike, 0)).time_s
    back = bike.search(at_node(bike, 1)).time_s
    assert fwd[1] == pytest.approx(100 / v)
    assert back[0] == pytest.approx(200 / v, rel=1e-6)  # must ride around
    walk = ProfileGraph(net, get_profile("walk"))
    assert walk.search(at_node(walk, 1)).time_s[0] == pytest.approx(100 / 1.1)
    # reverse search: time *to* node 1 from node 0 by bike is the forward 100 m
    to1 = bike.search(at_node(bike, 1), reverse=True).time_s
    assert to1[0] == pytest.approx(100 / v)


def test_cutoff_search_equals_full_search_within_cutoff(walk):
    rng = np.random.default_rng(7)
    drop = set(rng.choice(40 * 40, 200, replace=False).tolist())
    net = grid_network(40, 40, block_m=80, skip=lambda i, j: (j * 40 + i) in drop)
    g = ProfileGraph(net, walk)
    pts = np.column_stack([X0 + rng.uniform(0, 3120, 5), Y0 + rng.uniform(0, 3120, 5)])
    snap = g.snap(pts)
    full = g.search(snap).time_s
    cut = g.search(snap, cutoff_s=600).time_s
    inside = full <= 600
    assert inside.sum() > 50 and (~inside).sum() > 50
    np.testing.assert_allclose(cut[inside], full[inside])
    assert np.isinf(cut[~inside]).all()


def test_point_far_from_any_street_is_an_error(grid_graph):
    with pytest.raises(SnapError, match="farther than 500 m"):
        grid_graph.snap([[X0 - 1000, Y0]], max_snap_m=500)
    lenient = grid_graph.snap([[X0 - 1000, Y0]], max_snap_m=500, strict=False)
    assert lenient.seg[0] == -1


def test_snap_avoids_parking_aisles(walk):
    # a parking aisle 5 m away and a street 20 m away: the point joins the street
    xy = [[X0, Y0], [X0 + 100, Y0], [X0, Y0 + 25], [X0 + 100, Y0 + 25], [X0 + 100, Y0 + 400], [X0, Y0 + 400]]
    net = StreetNetwork.from_segments(xy, [0, 2, 1, 4], [1, 3, 3, 5], snap_ok=[True, False, True, True])
    g = ProfileGraph(net, walk)
    snap = g.snap([[X0 + 50, Y0 + 20]])
    assert snap.seg[0] == 0 and snap.offstreet_m[0] == pytest.approx(20)


def test_point_snapped_onto_the_end_of_a_oneway_is_at_that_node():
    # A -> B one-way for bikes, B - C both ways; a target 10 m beside B snaps to the end of A->B
    xy = [[X0, Y0], [X0 + 100, Y0], [X0 + 100, Y0 + 100]]
    net = StreetNetwork.from_segments(xy, [0, 1], [1, 2], bike_oneway=[1, 0])
    g = ProfileGraph(net, get_profile("bike"))
    v = get_profile("bike").speed_m_s
    target = g.snap([[X0 + 110, Y0 - 5]])
    assert target.frac[0] in (0.0, 1.0)
    t, _ = g.search(at_node(g, 2)).at(target)
    off = target.offstreet_m[0] / get_profile("bike").offstreet_speed_m_s
    assert t[0] == pytest.approx(100 / v + off)
    # and the other way round: from that point to C
    t_rev, _ = g.search(at_node(g, 2), reverse=True).at(target)
    assert t_rev[0] == pytest.approx(100 / v + off)


def test_profile_graphs_are_cached_per_network_object(walk):
    from circles.routing.load import profile_graph

    a = grid_network(3, 3)
    ga = profile_graph(a, walk)
    assert profile_graph(a, "walk") is ga
    b = grid_network(5, 5)  # a different network must get its own graph, never a cached one
    assert profile_graph(b, walk).net is b and profile_graph(b, walk).net.n_nodes == 25
