"""Tests for circles.io.coords (WGS84 / GCJ-02 / BD-09 / EPSG conversions)."""

import numpy as np
import pyproj
import pytest

from circles.errors import CoordinateSystemError, InputError
from circles.io.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = pyproj.Geod(ellps="WGS84")
TIANFU = (104.0657, 30.6598)  # 天府广场, Chengdu, WGS84


def metres(lon1, lat1, lon2, lat2):
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture
def china_grid():
    lon, lat = np.meshgrid(np.linspace(75.0, 135.0, 25), np.linspace(18.0, 53.0, 15))
    return lon.ravel(), lat.ravel()


def test_reference_pair_beijing():
    # Widely quoted reference values of the published formula (e.g. wandergis/coordtransform).
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-9)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    # The published one-step inverse of bd09 gives (116.39762729119315, 39.90865673957631); ours is
    # refined but must agree to well under a metre.
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert metres(lon, lat, 116.39762729119315, 39.90865673957631) < 0.05


def test_chengdu_offset_magnitude():
    lon, lat = wgs84_to_gcj02(*TIANFU)
    assert lon - TIANFU[0] == pytest.approx(0.0025, abs=3e-4)
    assert lat - TIANFU[1] == pytest.approx(-0.0024, abs=3e-4)
    assert 250.0 < metres(*TIANFU, lon, lat) < 500.0
    blon, blat = wgs84_to_bd09(*TIANFU)
    assert metres(*TIANFU, blon, blat) > 500.0  # BD-09 is further off again


def test_gcj02_round_trip_grid(china_grid):
    lon, lat = china_grid
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.01


def test_inverse_then_forward_reproduces_gcj02(china_grid):
    lon, lat = china_grid
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    # forward of the inverse reproduces the GCJ-02 input
    flon, flat = wgs84_to_gcj02(wlon, wlat)
    assert metres(glon, glat, flon, flat).max() < 0.01


def test_bd09_round_trips(china_grid):
    lon, lat = china_grid
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 0.01
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 0.01


@pytest.mark.parametrize("point", [(2.3522, 48.8566), (-74.006, 40.7128), (139.6917, 35.6895), (100.5, 0.5)])
def test_outside_china_unchanged(point):
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_vectorised_matches_scalar(china_grid):
    lon, lat = china_grid
    lon = np.append(lon, [2.35, np.nan])
    lat = np.append(lat, [48.85, 30.0])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
        vlon, vlat = fn(lon, lat)
        assert vlon.shape == lon.shape and vlat.shape == lat.shape
        for i in range(lon.size):
            slon, slat = fn(float(lon[i]), float(lat[i]))
            assert np.ndim(slon) == 0 and np.ndim(slat) == 0
            np.testing.assert_allclose([slon, slat], [vlon[i], vlat[i]], rtol=0, atol=1e-9)
    # 2-D input keeps its shape, lists are accepted, broadcasting works
    assert wgs84_to_gcj02(lon[:12].reshape(3, 4), lat[:12].reshape(3, 4))[0].shape == (3, 4)
    assert wgs84_to_gcj02([104.0, 104.1], 30.6)[1].shape == (2,)


def test_inputs_not_modified():
    lon, lat = np.array([104.0657]), np.array([30.6598])
    gcj02_to_wgs84(lon, lat)
    wgs84_to_gcj02(lon, lat)
    assert lon[0] == 104.0657 and lat[0] == 30.6598


def test_bad_shapes_raise_input_error():
    with pytest.raises(InputError):
        wgs84_to_gcj02([1.0, 2.0, 3.0], [1.0, 2.0])


def test_epsg_path_utm48n():
    fwd = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    lon = np.array([TIANFU[0], 104.1, 103.9])
    lat = np.array([TIANFU[1], 30.7, 30.5])
    e, n = fwd.transform(lon, lat)
    for crs in ("EPSG:32648", "epsg:32648", "32648", 32648):
        back_lon, back_lat = to_wgs84(e, n, crs)
        assert metres(lon, lat, back_lon, back_lat).max() < 1e-3


def test_to_wgs84_named_systems():
    glon, glat = wgs84_to_gcj02(*TIANFU)
    assert metres(*TIANFU, *to_wgs84(glon, glat, "gcj02")) < 0.01
    blon, blat = wgs84_to_bd09(*TIANFU)
    assert metres(*TIANFU, *to_wgs84(blon, blat, "BD09")) < 0.01
    for name in ("wgs84", "EPSG:4326", "4326", "cgcs2000", "epsg:4490"):
        lon, lat = to_wgs84(*TIANFU, name)
        assert (lon, lat) == TIANFU


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("wgs84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        ("CGCS2000", "wgs84"),
        ("epsg:4490", "wgs84"),
        (" GCJ02 ", "gcj02"),
        ("gcj-02", "gcj02"),
        ("bd09", "bd09"),
        ("epsg:32648", "EPSG:32648"),
        ("4547", "EPSG:4547"),
        (32648, "EPSG:32648"),
    ],
)
def test_normalise_crs_name(name, key):
    assert normalise_crs_name(name) == key


@pytest.mark.parametrize("bad", ["mars", "", "epsg:999999", "not a crs", None])
def test_unknown_crs_raises(bad):
    with pytest.raises(CoordinateSystemError, match="accepted"):
        normalise_crs_name(bad)
    with pytest.raises(CoordinateSystemError, match="gcj02"):
        to_wgs84(104.0, 30.0, bad)
