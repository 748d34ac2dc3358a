"""Routing and isochrones on the real central-Chengdu OSM extract."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from circles.config import get_profile
from circles.routing.isochrones import isochrones
from circles.routing.load import profile_graph

POINTS = [(104.0657, 30.6598), (104.0800, 30.6900), (104.1100, 30.7100), (104.0500, 30.7000)]


@pytest.fixture(scope="module")
def walk_graph(chengdu_net):
    return profile_graph(chengdu_net, "walk")


def test_network_size_and_islands_are_reported(walk_graph):
    assert walk_graph.net.n_nodes > 8000
    isl = walk_graph.islands
    assert isl.n_islands >= 1 and 0 < isl.island_street_m < 0.05 * isl.main_street_m


def test_times_match_networkx_dijkstra_on_the_same_segments(walk_graph):
    net, g = walk_graph.net, walk_graph
    G = nx.Graph()
    ok = g.usable
    for u, v, t in zip(net.seg_u[ok], net.seg_v[ok], g.time_s[ok]):
        if not G.has_edge(u, v) or G[u][v]["t"] > t:
            G.add_edge(int(u), int(v), t=float(t))
    rng = np.random.default_rng(3)
    main = np.flatnonzero(g.node_component == np.bincount(g.node_component).argmax())
    for src in rng.choice(main, 3, replace=False):
        ours = g.search(g.snap(net.node_xy[[src]])).time_s
        ref = nx.single_source_dijkstra_path_length(G, int(src), weight="t")
        ids = np.fromiter(ref.keys(), dtype=np.int64)
        np.testing.assert_allclose(ours[ids], np.fromiter(ref.values(), dtype=float), atol=1e-6)
        unreached = np.setdiff1d(np.arange(net.n_nodes), ids)
        assert np.isinf(ours[unreached]).all()


@pytest.mark.parametrize("lon,lat", POINTS)
def test_isochrones_are_nested_with_plausible_areas(walk_graph, lon, lat):
    g = walk_graph
    snap = g.snap(g.net.project(lon, lat))
    isos = isochrones(g, snap, [5, 10, 15])
    speed = get_profile("walk").speed_m_s
    for iso in isos:
        reach_m = iso.minutes * 60 * speed + 50
        assert 0 < iso.area_m2 < np.pi * reach_m**2  # never more than the straight-line disc
        assert iso.polygon.is_valid
    assert isos[2].area_m2 > 0.15 * np.pi * (900 * speed) ** 2  # a city centre is well connected
    for small, big in zip(isos, isos[1:]):
        assert small.polygon.difference(big.polygon).area < 1e-6


def test_holes_where_no_street_reaches(walk_graph):
    g = walk_graph
    (iso,) = isochrones(g, g.snap(g.net.project(104.0657, 30.6598)), [15])
    holes = [shapely.Polygon(r) for p in shapely.get_parts(iso.polygon) for r in p.interiors]
    assert len(holes) >= 3
    # each hole is farther than the buffer from every reached street piece
    from circles.routing.isochrones import reached_pieces

    pieces, _ = reached_pieces(g.search(g.snap(g.net.project(104.0657, 30.6598)), cutoff_s=900), 900)
    lines = shapely.linestrings(pieces)
    big = max(holes, key=lambda h: h.area)
    assert shapely.distance(lines, big.representative_point()).min() > 50 - 1e-6
