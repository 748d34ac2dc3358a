"""Isochrone polygons: exact cut on partly reached segments, holes, nesting, GeoJSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape

from circles.errors import InputError
from circles.routing.graph import ProfileGraph
from circles.routing.isochrones import (
    isochrones,
    parse_minutes,
    reached_pieces,
    service_areas,
    to_feature_collection,
)
from circles.routing.network import StreetNetwork

from grids import X0, Y0, grid_network, node

METHODS = pytest.mark.parametrize("method", ["raster", "exact"])


@METHODS
def test_partly_reached_segment_is_cut_at_the_exact_cutoff(walk, method):
    # one straight 2 km street, start at its west end: 5 min at 1.1 m/s = 330 m
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 2000, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    snap = g.snap([[X0, Y0]])
    (iso,) = isochrones(g, snap, [5], buffer_m=50, method=method)
    assert iso.street_m == pytest.approx(330.0)
    minx, miny, maxx, maxy = iso.polygon.bounds
    assert maxx == pytest.approx(X0 + 330 + 50, abs=0.01)
    assert maxy == pytest.approx(Y0 + 50, abs=0.01)
    # a 330 m stadium of radius 50 m (polygonised circle slightly smaller)
    assert iso.area_m2 == pytest.approx(330 * 100 + np.pi * 50**2, rel=0.02)


@METHODS
def test_start_in_the_middle_of_a_segment_reaches_both_ways(walk, method):
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 2000, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    (iso,) = isochrones(g, g.snap([[X0 + 1000, Y0 + 22]]), [5], buffer_m=50, method=method)
    # 22 m off the street leaves 308 m each way along it
    assert iso.street_m == pytest.approx(2 * (330 - 22))
    assert iso.polygon.bounds[0] == pytest.approx(X0 + 1000 - 308 - 50, abs=0.01)


@METHODS
def test_isochrones_are_nested_and_grow(grid_graph, method):
    snap = grid_graph.snap(grid_graph.net.node_xy[[node(21, 10, 10)]] + [30, 0])
    isos = isochrones(grid_graph, snap, [5, 10, 15], method=method)
    for small, big in zip(isos, isos[1:]):
        assert small.polygon.difference(big.polygon).area < 1e-6
        assert big.area_m2 > small.area_m2 and big.street_m > small.street_m


@METHODS
def test_grid_reach_is_a_diamond_not_a_hull(grid_graph, method):
    # from the centre node, 10 min = 660 m of Manhattan distance
    snap = grid_graph.snap(grid_graph.net.node_xy[[node(21, 10, 10)]])
    (iso,) = isochrones(grid_graph, snap, [10], buffer_m=40, method=method)
    c = grid_graph.net.node_xy[node(21, 10, 10)]
    assert iso.polygon.contains(Point(c[0] + 600, c[1]))  # 6 blocks east on the street
    assert not iso.polygon.contains(Point(c[0] + 500, c[1] + 500))  # 1000 m by street: corner of the box
    # street length: every node within 6 blocks, plus 60 m stubs beyond them
    assert iso.street_m == pytest.approx(_manhattan_street_m(660, 100), rel=1e-9)


def _manhattan_street_m(reach_m: float, block: float) -> float:
    """Street length within Manhattan reach of a grid node on an infinite grid, by enumeration."""
    total = 0.0
    for i in range(-20, 21):
        for j in range(-20, 21):
            d = abs(i) + abs(j)
            for di, dj in ((1, 0), (0, 1)):
                d2 = abs(i + di) + abs(j + dj)
                a = min(block, max(0.0, reach_m - d * block))
                b = min(block, max(0.0, reach_m - d2 * block))
                total += min(block, a + b)
    return total


@METHODS
def test_blocks_no_street_reaches_stay_holes(walk, method):
    # a 2 km grid with a 600 m square in the middle that has no streets (a walled campus)
    net = grid_network(21, 21, skip=lambda i, j: 7 < i < 13 and 7 < j < 13)
    g = ProfileGraph(net, walk)
    # from its corner (7, 7), 20 min = 1320 m reaches the whole 2400 m ring of streets around it
    snap = g.snap(net.node_xy[[node(21, 7, 7)]])
    (iso,) = isochrones(g, snap, [20], buffer_m=50, method=method)
    centre = Point(X0 + 1000, Y0 + 1000)
    assert not iso.polygon.contains(centre)
    assert iso.polygon.geom_type == "Polygon" and len(iso.polygon.interiors) == 1
    hole = shapely.Polygon(iso.polygon.interiors[0])
    assert hole.area == pytest.approx((600 - 100) ** 2, rel=0.02)  # 600 m square less the 50 m bands
    hull = shapely.convex_hull(iso.polygon)
    assert hull.contains(centre)  # a convex hull would have claimed it


@METHODS
def test_unreached_other_bank_is_outside(walk, method):
    from grids import grid_arrays

    xy1, u1, v1 = grid_arrays(10, 10)
    xy2, u2, v2 = grid_arrays(10, 10, x0=X0 + 1200)
    net = StreetNetwork.from_segments(np.vstack([xy1, xy2]), np.r_[u1, u2 + 100], np.r_[v1, v2 + 100])
    g = ProfileGraph(net, walk)
    (iso,) = isochrones(g, g.snap(net.node_xy[[9 + 5 * 10]]), [15], method=method)
    assert not iso.polygon.intersects(Point(X0 + 1300, Y0 + 500))


def test_feature_collection_is_wgs84_with_properties(grid_graph):
    snap = grid_graph.snap(grid_graph.net.node_xy[[node(21, 10, 10)]])
    isos = isochrones(grid_graph, snap, [5, 10])
    fc = json.loads(json.dumps(to_feature_collection(isos, grid_graph)))
    assert [f["properties"]["minutes"] for f in fc["features"]] == [10, 5]
    for f in fc["features"]:
        assert set(f["properties"]) >= {"minutes", "profile", "area_m2", "street_m"}
        lon, lat = shape(f["geometry"]).centroid.coords[0]
        assert 100 < lon < 108 and 29 < lat < 32  # UTM 48N near Chengdu, in degrees
    assert "OpenStreetMap" in fc["attribution"]


@pytest.mark.parametrize("bad", ["", "5,x", "0", "-5", "500", "nan"])
def test_bad_minutes_are_rejected(bad):
    with pytest.raises(InputError):
        parse_minutes(bad)


def test_minutes_are_sorted_and_unique():
    assert parse_minutes("15, 5,10,5") == [5, 10, 15]


def test_reached_pieces_never_exceed_the_network(grid_graph):
    snap = grid_graph.snap(grid_graph.net.node_xy[[node(21, 0, 0)]])
    times = grid_graph.search(snap)
    _, street_m = reached_pieces(times, 1e6)
    assert street_m == pytest.approx(grid_graph.net.seg_len_m.sum())


@METHODS
def test_feature_collection_keeps_the_outline_without_collinear_vertices(walk, method):
    net = StreetNetwork.from_segments([[X0, Y0], [X0 + 2000, Y0]], [0], [1])
    g = ProfileGraph(net, walk)
    (iso,) = isochrones(g, g.snap([[X0 + 1000, Y0]]), [5], method=method)
    fc = to_feature_collection([iso], g)
    geom = shape(fc["features"][0]["geometry"])
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) <= len(iso.polygon.exterior.coords)
    assert all(len(str(c).split(".")[-1]) <= 7 for xy in ring for c in xy)  # rounded to 1e-7 degrees
    back = shapely.transform(geom, lambda xy: net.project(xy[:, 0], xy[:, 1]))
    assert back.symmetric_difference(iso.polygon).area < 1e-3 * iso.area_m2


def test_feature_collection_of_a_multipolygon_with_holes(walk):
    # two 150 m-block grids 3 km apart: the service area of one facility in each is two parts with holes
    from grids import grid_arrays

    xy1, u1, v1 = grid_arrays(7, 7, 150.0)
    xy2, u2, v2 = grid_arrays(7, 7, 150.0, x0=X0 + 3000)
    net = StreetNetwork.from_segments(np.vstack([xy1, xy2]), np.r_[u1, u2 + 49], np.r_[v1, v2 + 49])
    g = ProfileGraph(net, walk)
    (area,) = service_areas(g, g.snap(net.node_xy[[24, 49 + 24]]), [10])
    assert area.polygon.geom_type == "MultiPolygon"
    fc = to_feature_collection([area], g)
    geom = fc["features"][0]["geometry"]
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    assert all(len(poly) > 1 for poly in geom["coordinates"])  # exterior and holes
    back = shapely.transform(shape(geom), lambda xy: net.project(xy[:, 0], xy[:, 1]))
    assert back.symmetric_difference(area.polygon).area < 1e-3 * area.area_m2


def test_the_feature_collection_text_is_what_json_dumps_writes(grid_graph):
    from circles.routing.isochrones import Isochrone, feature_collection_text

    snaps = [
        grid_graph.snap(grid_graph.net.node_xy[[220]]),
        grid_graph.snap(grid_graph.net.node_xy[[0, 440]]),
    ]
    for snap in snaps:  # one polygon, and two apart (a MultiPolygon at 5 minutes)
        isos = isochrones(grid_graph, snap, [2, 5, 30]) + [Isochrone(1.0, "walk", shapely.Polygon(), 0.0)]
        want = to_feature_collection(isos, grid_graph, lon=104.0, lat=-0.5, note="社区")
        text = feature_collection_text(isos, grid_graph, lon=104.0, lat=-0.5, note="社区")
        assert text == json.dumps(want, separators=(",", ":"), ensure_ascii=False)
    assert any(f["geometry"]["type"] == "MultiPolygon" for f in json.loads(text)["features"])


@pytest.mark.parametrize(
    "value", [104.0657, -0.5, 0.0, -0.0, -1e-9, 30.00000004, 179.99999996, -73.9857123, 1e-7, 12.34500005]
)
def test_coordinates_are_written_as_python_writes_them_rounded(value):
    from circles.routing import kernels

    lon = np.array([value, value])
    lat = np.array([-value, 0.25])
    data, starts = kernels.rings_text(lon, lat, np.array([0, 2]), np.array([0, 1]), 7)
    text = data.tobytes().decode()
    # what geojson_polygons writes: numpy's rounding, then json.dumps of the floats
    want = json.dumps([np.round(np.column_stack([lon, lat]), 7).tolist()], separators=(",", ":"))
    if 0 < abs(np.round(value, 7)) < 1e-4:  # repr switches to exponents; both are JSON numbers
        assert json.loads(text) == json.loads(want)
    else:
        assert text == want
    assert starts.tolist() == [0, len(text)]


def test_the_fitted_transform_to_wgs84_is_pyprojs_and_falls_back_to_it(monkeypatch):
    import pyproj

    from circles.routing import crs_fit

    fit = crs_fit.TiledFit(
        pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True),
        crs_fit.TILE_M,
        np.full(2, 1.2e5),
    )
    rng = np.random.default_rng(4)
    x, y = 410_000 + rng.uniform(-3000, 3000, 500), 3_397_000 + rng.uniform(-3000, 3000, 500)
    want = fit.transformer.transform(x, y)
    got = fit.transform(x, y)
    assert np.abs(got[0] - want[0]).max() < 1e-11 and np.abs(got[1] - want[1]).max() < 1e-11  # degrees
    assert (np.round(got, 7) == np.round(want, 7)).all()  # the same GeoJSON coordinates
    assert [f is not None for f in fit.fits.values()] == [True]
    far = fit.transform(np.array([410_000.0, 610_000.0]), np.array([3_397_000.0, 3_397_000.0]))
    assert np.array_equal(far, fit.transformer.transform([410_000.0, 610_000.0], [3_397_000.0, 3_397_000.0]))
    back = crs_fit.from_wgs84("EPSG:32648").transform(*want)  # and back to metres
    assert np.abs(back[0] - x).max() < 1e-6 and np.abs(back[1] - y).max() < 1e-6
    monkeypatch.setattr(crs_fit, "MAX_ERROR_M", 0.0)  # no fit is good enough: pyproj everywhere
    strict = crs_fit.TiledFit(fit.transformer, crs_fit.TILE_M, np.full(2, 1.2e5))
    assert np.array_equal(strict.transform(x, y), want)
    assert list(strict.fits.values()) == [None]
