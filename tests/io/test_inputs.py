"""Tests for the CRS checks of circles.io.crs_check on files read by circles.io.facilities. The readers
themselves are tested in test_user_facilities.py, test_user_communities.py and test_registers.py."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString
from user_files import TO_UTM, write_csv

from circles.catalog import load_catalog
from circles.errors import CoordinateSystemError
from circles.io.coords import wgs84_to_bd09, wgs84_to_gcj02
from circles.io.crs_check import check_declared_crs, detect_bd09_shift, detect_gcj02_shift
from circles.io.facilities import read_facilities


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# --- detecting GCJ-02 / BD-09 declared as WGS84 --------------------------------------------------


@pytest.fixture(scope="module")
def streets():
    """Synthetic streets (UTM 48N) around 天府广场, irregularly spaced, and points on them (WGS84)."""
    cx, cy = TO_UTM.transform(104.0657, 30.6598)
    xs, ys = [0, 730, 1910, 2650, 4100], [0, 1170, 2380, 3900]
    lines = [LineString([(cx + x, cy - 500), (cx + x, cy + 4400)]) for x in xs]
    lines += [LineString([(cx - 500, cy + y), (cx + 4600, cy + y)]) for y in ys]
    net = shapely.MultiLineString(lines)
    rng = np.random.default_rng(1)
    pts = [ln.interpolate(rng.uniform(0, ln.length)) for ln in lines for _ in range(8)]
    px, py = np.array([p.x for p in pts]), np.array([p.y for p in pts])
    lon, lat = TO_UTM.transform(px, py, direction="INVERSE")
    shapely.prepare(net)

    def distance(lon_, lat_):
        x, y = TO_UTM.transform(np.asarray(lon_), np.asarray(lat_))
        return shapely.distance(shapely.points(x, y), net)

    return np.asarray(lon), np.asarray(lat), distance


def test_detect_gcj02_shift(streets):
    lon, lat, dist = streets
    gx, gy = wgs84_to_gcj02(lon, lat)
    r = detect_gcj02_shift(gx, gy, dist)
    assert r["likely_gcj02"] is True
    assert r["median_m_converted"] < 1.0 and r["median_m_as_given"] > 30
    plain = detect_gcj02_shift(lon, lat, dist)
    assert plain["likely_gcj02"] is False and plain["median_m_as_given"] < 1.0
    assert detect_gcj02_shift(gx[:3], gy[:3], dist)["likely_gcj02"] is False  # too few points
    bx, by = wgs84_to_bd09(lon, lat)
    assert detect_bd09_shift(bx, by, dist)["likely_bd09"] is True
    assert detect_bd09_shift(lon, lat, dist)["likely_bd09"] is False


def test_check_declared_crs(streets):
    lon, lat, dist = streets
    gx, gy = wgs84_to_gcj02(lon, lat)
    as_wgs = gpd.GeoDataFrame(geometry=gpd.points_from_xy(gx, gy), crs="EPSG:4326")
    with pytest.raises(
        CoordinateSystemError, match="looks like GCJ-02 .* declared as WGS84.*pass --crs gcj02"
    ) as e:
        check_declared_crs(as_wgs, "wgs84", dist)
    assert "median distance to streets" in str(e.value)
    bx, by = wgs84_to_bd09(lon, lat)
    with pytest.raises(CoordinateSystemError, match="pass --crs bd09"):
        check_declared_crs(
            gpd.GeoDataFrame(geometry=gpd.points_from_xy(bx, by), crs="EPSG:4326"), "wgs84", dist
        )
    ok = check_declared_crs(
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"), "wgs84", dist
    )
    assert ok["median_m"]["wgs84"] < 1.0 and ok["median_m"]["gcj02"] > 30
    # WGS84 numbers wrongly declared as GCJ-02: the reader shifted them off the streets
    from circles.io.coords import gcj02_to_wgs84

    wx, wy = gcj02_to_wgs84(lon, lat)
    wrong = gpd.GeoDataFrame(geometry=gpd.points_from_xy(wx, wy), crs="EPSG:4326")
    with pytest.raises(CoordinateSystemError, match="looks like WGS84 coordinates declared as GCJ-02"):
        check_declared_crs(wrong, "gcj02", dist)
    assert check_declared_crs(as_wgs, "EPSG:32648", dist)["n_points"] == 0


def test_check_declared_crs_end_to_end(tmp_path, catalog, streets):
    lon, lat, dist = streets
    gx, gy = wgs84_to_gcj02(lon, lat)
    path = write_csv(
        tmp_path / "amap.csv",
        ["category", "lon", "lat"],
        [["canteen", f"{x:.8f}", f"{y:.8f}"] for x, y in zip(gx, gy)],
    )
    with pytest.raises(CoordinateSystemError, match="--crs gcj02"):
        check_declared_crs(read_facilities(path, crs="wgs84", catalog=catalog), "wgs84", dist)
    check_declared_crs(read_facilities(path, crs="gcj02", catalog=catalog), "gcj02", dist)
