"""Optional crossing delays: a walk across a major road or through a signalised junction waits exactly
the configured seconds; a walk along the road it would cross does not."""

from __future__ import annotations

import pytest
from osm_ways import CRS, make_ways, node_index
from scipy.sparse.csgraph import dijkstra

from circles.config import get_profile
from circles.routing.access_rules import CrossingDelays, crossing_delays
from circles.routing.graph import ProfileGraph
from circles.routing.network import network_from_ways

DELAYS = CrossingDelays(
    signal_s=15.0, major_road_s=5.0, major_highways=frozenset({"motorway", "trunk", "primary"})
)


def _crossroads(minor: str = "residential", signals: tuple[int, ...] = ()):
    """A primary road W-N-E crossed at node N by a ``minor`` street S-N-Nn; every arm 100 m."""
    nodes = {1: (0.0, 0.0), 2: (-100.0, 0.0), 3: (100.0, 0.0), 4: (0.0, -100.0), 5: (0.0, 100.0)}
    ways = {
        50: ({"highway": "primary"}, [2, 1, 3]),
        51: ({"highway": minor}, [4, 1, 5]),
    }
    return make_ways(nodes, ways, signals=signals)


def _time_s(net, a: int, b: int) -> float:
    g = ProfileGraph(net, get_profile("walk"))
    return float(dijkstra(g.csr, indices=node_index(net, a))[node_index(net, b)])


WALK_200M_S = 200 / 1.1


def test_crossing_a_major_road_adds_exactly_its_delay():
    net = network_from_ways(_crossroads(), CRS, crossings=DELAYS)
    assert _time_s(net, 4, 5) == pytest.approx(WALK_200M_S + 5.0, abs=1e-9)  # across the primary
    assert _time_s(net, 2, 3) == pytest.approx(WALK_200M_S, abs=1e-9)  # along it: nothing to cross
    assert _time_s(net, 4, 3) == pytest.approx(WALK_200M_S + 2.5, abs=1e-9)  # turning: half (documented)


def test_a_signalised_junction_adds_the_signal_delay():
    net = network_from_ways(_crossroads(signals=(1,)), CRS, crossings=DELAYS)
    assert _time_s(net, 4, 5) == pytest.approx(WALK_200M_S + 15.0, abs=1e-9)  # the larger delay applies
    assert _time_s(net, 2, 3) == pytest.approx(WALK_200M_S, abs=1e-9)
    # two equal streets at signals: every way through waits
    same = network_from_ways(_crossroads("primary", signals=(1,)), CRS, crossings=DELAYS)
    assert _time_s(same, 4, 5) == pytest.approx(WALK_200M_S + 15.0, abs=1e-9)
    assert _time_s(same, 2, 3) == pytest.approx(WALK_200M_S + 15.0, abs=1e-9)


def test_delays_are_off_by_default_and_only_for_walking():
    assert crossing_delays() is None  # data/access_rules.toml: enabled = false
    assert crossing_delays(True) == CrossingDelays(15.0, 5.0, frozenset({"motorway", "trunk", "primary"}))
    plain = network_from_ways(_crossroads(signals=(1,)), CRS)
    assert plain.seg_delay_s is None
    assert _time_s(plain, 4, 5) == pytest.approx(WALK_200M_S, abs=1e-9)
    delayed = network_from_ways(_crossroads(signals=(1,)), CRS, crossings=DELAYS)
    bike = ProfileGraph(delayed, get_profile("bike"))
    t = dijkstra(bike.csr, indices=node_index(delayed, 4))[node_index(delayed, 5)]
    assert t == pytest.approx(200 / get_profile("bike").speed_m_s, abs=1e-9)


def test_a_minor_junction_without_signals_costs_nothing():
    nodes = {1: (0.0, 0.0), 2: (-100.0, 0.0), 3: (100.0, 0.0), 4: (0.0, -100.0), 5: (0.0, 100.0)}
    ways = {60: ({"highway": "residential"}, [2, 1, 3]), 61: ({"highway": "service"}, [4, 1, 5])}
    net = network_from_ways(make_ways(nodes, ways), CRS, crossings=DELAYS)
    assert _time_s(net, 4, 5) == pytest.approx(WALK_200M_S, abs=1e-9)
