"""Pedestrian squares (highway=pedestrian + area=yes) are walked across, never outside their outline."""

from __future__ import annotations

import numpy as np
import pytest
from osm_ways import CRS, make_ways, node_index
from scipy.sparse.csgraph import dijkstra

from circles.config import get_profile
from circles.routing.graph import ProfileGraph
from circles.routing.network import network_from_ways

SQUARE = {"highway": "pedestrian", "area": "yes"}


def _walk_m(net, a: int, b: int) -> float:
    """Shortest walking distance (metres) between two OSM nodes."""
    g = ProfileGraph(net, get_profile("walk"))
    t = dijkstra(g.csr, indices=node_index(net, a))[node_index(net, b)]
    return float(t * g.profile.speed_m_s)


def _square_ways(area_tag: str = "yes"):
    """A 100 m square (corners 1-4) with a street reaching corner 1 from the west and one leaving
    corner 3 to the east."""
    nodes = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (100.0, 100.0), 4: (0.0, 100.0), 5: (-50, 0), 6: (150, 100)}
    tags = dict(SQUARE, area=area_tag)
    ways = {
        20: (tags, [1, 2, 3, 4, 1]),
        21: ({"highway": "residential"}, [5, 1]),
        22: ({"highway": "residential"}, [3, 6]),
    }
    return make_ways(nodes, ways)


def test_a_square_is_crossed_on_the_diagonal():
    # by hand: corner 1 to corner 3 round the outline is two sides, 100 + 100 = 200 m; across, the
    # diagonal is 100 * sqrt(2) = 141.42 m. From street end 5 to street end 6: 50 + 141.42 + 50 m.
    net = network_from_ways(_square_ways(), CRS)
    assert _walk_m(net, 1, 3) == pytest.approx(100 * np.sqrt(2), abs=1e-3)
    assert _walk_m(net, 5, 6) == pytest.approx(100 + 100 * np.sqrt(2), abs=1e-3)
    outline = network_from_ways(_square_ways(), CRS, pedestrian_areas=False)
    assert _walk_m(outline, 1, 3) == pytest.approx(200.0, abs=1e-3)
    # the two diagonals are the only new segments, and they belong to the square
    assert net.n_segments == outline.n_segments + 2
    assert set(net.seg_way_id[outline.n_segments :].tolist()) == {20}


def test_only_area_yes_squares_are_crossed():
    # a closed pedestrian way without area=yes is a street loop (a ring road round a block)
    net = network_from_ways(_square_ways(area_tag="no"), CRS)
    assert _walk_m(net, 1, 3) == pytest.approx(200.0, abs=1e-3)


def test_a_concave_square_is_crossed_only_inside():
    # an L-shaped square: the corner notch (x > 100, y > 100) is outside. From corner 3 (200, 100) to
    # corner 5 (100, 200) the straight line crosses the notch, so the walk bends at the inner corner 4
    # (100, 100): 100 + 100 = 200 m, not 141 m. Corner 2 (200, 0) to corner 6 (0, 200) can go straight:
    # the line passes through the inner corner 4 exactly, 200 * sqrt(2) = 282.84 m.
    nodes = {
        1: (0.0, 0.0),
        2: (200.0, 0.0),
        3: (200.0, 100.0),
        4: (100.0, 100.0),
        5: (100.0, 200.0),
        6: (0.0, 200),
    }
    net = network_from_ways(make_ways(nodes, {30: (SQUARE, [1, 2, 3, 4, 5, 6, 1])}), CRS)
    assert _walk_m(net, 3, 5) == pytest.approx(200.0, abs=1e-3)
    assert _walk_m(net, 2, 6) == pytest.approx(200 * np.sqrt(2), abs=1e-3)
    assert _walk_m(net, 1, 4) == pytest.approx(100 * np.sqrt(2), abs=1e-3)


def test_a_large_square_keeps_only_its_junctions_as_crossing_candidates():
    # a 64-gon square (more nodes than the cap) with streets at two opposite nodes: one crossing
    from circles.routing.pedestrian_areas import DEFAULT_MAX_AREA_NODES

    k = DEFAULT_MAX_AREA_NODES + 4
    ang = 2 * np.pi * np.arange(k) / k
    nodes = {i + 1: (100 * np.cos(a), 100 * np.sin(a)) for i, a in enumerate(ang)}
    nodes |= {1000: (150.0, 0.0), 1001: (-150.0, 0.0)}
    far = k // 2 + 1  # node at angle pi
    ways = {
        40: (SQUARE, [*range(1, k + 1), 1]),
        41: ({"highway": "residential"}, [1000, 1]),
        42: ({"highway": "residential"}, [far, 1001]),
    }
    net = network_from_ways(make_ways(nodes, ways), CRS)
    assert _walk_m(net, 1000, 1001) == pytest.approx(300.0, abs=1e-3)
    outline = network_from_ways(make_ways(nodes, ways), CRS, pedestrian_areas=False)
    assert net.n_segments == outline.n_segments + 1
