"""Tests for reading user files: facility lists (circles.io.facilities), community boundaries
(circles.io.communities) and their coordinate systems, and the CRS checks of circles.io.crs_check."""

import json
import logging
import zipfile

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from circles.catalog import load_catalog
from circles.errors import (
    CoordinateSystemError,
    DataFileError,
    InputError,
    OutsideRegionError,
    UnknownCategoryError,
)
from circles.io.communities import read_communities
from circles.io.coords import wgs84_to_bd09, wgs84_to_gcj02
from circles.io.crs_check import check_declared_crs, detect_bd09_shift, detect_gcj02_shift
from circles.io.facilities import read_facilities

GEOD = pyproj.Geod(ellps="WGS84")
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
# Known WGS84 positions around 天府广场, Chengdu
KNOWN = np.array([[104.0657, 30.6598], [104.0712, 30.6631], [104.0583, 30.6502], [104.0801, 30.6455]])
CHENGDU_BBOX = (103.9, 30.5, 104.3, 30.8)


def metres(lon1, lat1, lon2, lat2):
    return np.abs(np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def write_csv(path, header, rows):
    path.write_text(
        "\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n", encoding="utf-8"
    )
    return path


def write_geojson(path, features):
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
                ],
            }
        )
    )
    return path


# --- facilities: formats and coordinate systems --------------------------------------------------


def test_csv_gcj02_declared_converts_to_wgs84_within_1m(tmp_path, catalog):
    gx, gy = wgs84_to_gcj02(KNOWN[:, 0], KNOWN[:, 1])
    rows = [[f"f{i}", "canteen", f"{x:.9f}", f"{y:.9f}", "食堂"] for i, (x, y) in enumerate(zip(gx, gy))]
    path = write_csv(tmp_path / "amap.csv", ["facility_id", "Category", "LNG", "LAT", "name"], rows)
    gdf = read_facilities(path, crs="gcj02", catalog=catalog)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns[:5]) == ["facility_id", "category", "name", "floor_area_m2", "source"]
    d = metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1])
    assert d.max() < 1.0
    # the same numbers declared as WGS84 are hundreds of metres off
    raw = read_facilities(path, catalog=catalog)
    assert metres(raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).min() > 200
    assert gdf["source"].tolist() == ["user"] * 4
    assert gdf["name"].iloc[0] == "食堂"


@pytest.mark.parametrize("lon,lat", [("longitude", "latitude"), ("X", "Y"), ("lon", "lat"), ("Lng", "Lat")])
def test_csv_coordinate_column_names(tmp_path, catalog, lon, lat):
    path = write_csv(tmp_path / "f.csv", ["category", lon, lat], [[" Park ", 104.0657, 30.6598]])
    gdf = read_facilities(path, catalog=catalog)
    assert gdf.geometry.iloc[0].equals(Point(104.0657, 30.6598))
    assert gdf["facility_id"].tolist() == ["f:1"] and gdf["category"].tolist() == ["park"]


def test_csv_bd09_declared(tmp_path, catalog):
    bx, by = wgs84_to_bd09(KNOWN[:, 0], KNOWN[:, 1])
    path = write_csv(
        tmp_path / "baidu.csv",
        ["category", "lng", "lat"],
        [["clinic", f"{x:.9f}", f"{y:.9f}"] for x, y in zip(bx, by)],
    )
    gdf = read_facilities(path, crs="bd09", catalog=catalog)
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).max() < 1.0


def test_csv_gb18030_and_semicolons(tmp_path, catalog):
    path = tmp_path / "gbk.csv"
    path.write_bytes("name;category;lon;lat\n社区食堂;canteen;104.0657;30.6598\n".encode("gb18030"))
    gdf = read_facilities(path, catalog=catalog)
    assert gdf["name"].tolist() == ["社区食堂"]


def test_geojson_with_polygon_gets_representative_point(tmp_path, catalog, caplog):
    poly = box(104.060, 30.655, 104.062, 30.657)
    path = write_geojson(
        tmp_path / "f.geojson",
        [
            ({"category": "park", "name": "公园", "floor_area_m2": 120}, shapely.geometry.mapping(poly)),
            ({"category": "clinic"}, {"type": "Point", "coordinates": [104.07, 30.66]}),
        ],
    )
    with caplog.at_level(logging.INFO, logger="circles.io"):
        gdf = read_facilities(path, catalog=catalog)
    assert gdf.geom_type.tolist() == ["Point", "Point"]
    assert poly.contains(gdf.geometry.iloc[0])
    assert "representative point" in caplog.text and "row 1" in caplog.text
    assert gdf["floor_area_m2"].iloc[0] == 120 and np.isnan(gdf["floor_area_m2"].iloc[1])
    assert gdf["facility_id"].tolist() == ["f:1", "f:2"]


def test_gpkg_in_utm_uses_file_crs(tmp_path, catalog):
    x, y = TO_UTM.transform(KNOWN[:, 0], KNOWN[:, 1])
    src = gpd.GeoDataFrame(
        {"category": ["canteen"] * 4, "facility_id": list("abcd")},
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:32648",
    )
    path = tmp_path / "utm.gpkg"
    src.to_file(path, driver="GPKG")
    gdf = read_facilities(path, catalog=catalog)
    assert gdf.crs.to_epsg() == 4326
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).max() < 0.01
    assert gdf.attrs["crs_read_as"] == "EPSG:32648"
    with pytest.raises(CoordinateSystemError, match="EPSG:32648"):
        read_facilities(path, crs="gcj02", catalog=catalog)


def test_gpkg_labelled_wgs84_declared_gcj02_declaration_wins(tmp_path, catalog):
    gx, gy = wgs84_to_gcj02(KNOWN[:, 0], KNOWN[:, 1])
    src = gpd.GeoDataFrame(
        {"category": ["canteen"] * 4}, geometry=gpd.points_from_xy(gx, gy), crs="EPSG:4326"
    )
    path = tmp_path / "poi.gpkg"
    src.to_file(path, driver="GPKG")
    gdf = read_facilities(path, crs="gcj02", catalog=catalog)
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).max() < 1.0


def test_shapefile_and_zipped_shapefile_with_truncated_fields(tmp_path, catalog):
    src = gpd.GeoDataFrame(
        {"category": ["canteen", "park"], "facility_i": ["A1", "A2"], "floor_area": [30.0, 0.0]},
        geometry=gpd.points_from_xy(KNOWN[:2, 0], KNOWN[:2, 1]),
        crs="EPSG:4326",
    )
    shp = tmp_path / "fac.shp"
    src.to_file(shp)
    for path in (shp, tmp_path / "fac.shp.zip"):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path, "w") as z:
                for f in tmp_path.glob("fac.*"):
                    if f.suffix != ".zip":
                        z.write(f, f.name)
        gdf = read_facilities(path, catalog=catalog)
        assert gdf["facility_id"].tolist() == ["A1", "A2"]
        assert gdf["floor_area_m2"].tolist() == [30.0, 0.0]


def test_projected_declared_but_degrees(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["category", "lon", "lat"], [["park", 104.06, 30.65]])
    with pytest.raises(CoordinateSystemError, match="look like longitude/latitude"):
        read_facilities(path, crs="EPSG:32648", catalog=catalog)


def test_csv_in_utm_declared(tmp_path, catalog):
    x, y = TO_UTM.transform(KNOWN[:, 0], KNOWN[:, 1])
    path = write_csv(tmp_path / "f.csv", ["category", "x", "y"], [["park", a, b] for a, b in zip(x, y)])
    gdf = read_facilities(path, crs=32648, catalog=catalog)
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).max() < 0.01


# --- facilities: errors --------------------------------------------------------------------------


def test_unknown_category_named(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv",
        ["category", "lon", "lat"],
        [["canteen", 104.06, 30.65], ["gym", 104.06, 30.65], ["gym", 104.07, 30.65], ["cafe", 104.06, 30.66]],
    )
    with pytest.raises(UnknownCategoryError) as e:
        read_facilities(path, catalog=catalog)
    msg = str(e.value)
    assert "'gym' in rows 2, 3" in msg and "'cafe' in row 4" in msg
    assert str(path) in msg and "known categories" in msg and "canteen" in msg
    assert isinstance(e.value, ValueError)


def test_missing_category_column(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["name", "lon", "lat"], [["x", 104.06, 30.65]])
    with pytest.raises(DataFileError, match="no 'category' column") as e:
        read_facilities(path, catalog=catalog)
    assert "name" in str(e.value) and "canteen" in str(e.value)


def test_missing_coordinate_columns(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["category", "east", "north"], [["park", 1, 2]])
    with pytest.raises(DataFileError, match="no longitude/latitude columns"):
        read_facilities(path, catalog=catalog)


def test_negative_or_bad_floor_area_rows(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv",
        ["facility_id", "category", "lon", "lat", "floor_area_m2"],
        [
            ["a", "canteen", 104.06, 30.65, 50],
            ["b", "canteen", 104.06, 30.65, -3],
            ["c", "canteen", 104.06, 30.65, ""],
            ["d", "canteen", 104.06, 30.65, "big"],
        ],
    )
    with pytest.raises(DataFileError) as e:
        read_facilities(path, catalog=catalog)
    assert "rows 2 ('b'), 4 ('d')" in str(e.value) and "floor_area_m2" in str(e.value)


def test_empty_and_null_geometry_rows(tmp_path, catalog):
    path = write_geojson(
        tmp_path / "f.geojson",
        [
            ({"category": "park"}, {"type": "Point", "coordinates": [104.06, 30.65]}),
            ({"category": "park", "name": "无坐标"}, None),
            ({"category": "park"}, {"type": "Point", "coordinates": [104.07, 30.65]}),
            ({"category": "park"}, {"type": "MultiPoint", "coordinates": []}),
        ],
    )
    with pytest.raises(DataFileError, match="missing or empty geometry") as e:
        read_facilities(path, catalog=catalog)
    assert "rows 2 ('无坐标'), 4" in str(e.value)


def test_missing_csv_coordinates_rows(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv",
        ["category", "lon", "lat"],
        [["park", 104.06, 30.65], ["park", "", 30.65], ["park", "abc", 30.6]],
    )
    with pytest.raises(DataFileError, match="rows 2, 3"):
        read_facilities(path, catalog=catalog)


def test_line_geometry_rejected(tmp_path, catalog):
    path = write_geojson(
        tmp_path / "f.geojson",
        [
            ({"category": "park"}, shapely.geometry.mapping(LineString([(104.0, 30.6), (104.1, 30.7)]))),
        ],
    )
    with pytest.raises(DataFileError, match="points or polygons, got linestring: row 1"):
        read_facilities(path, catalog=catalog)


def test_out_of_range_lon(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv", ["category", "lon", "lat"], [["park", 104.06, 30.65], ["park", 204.06, 30.65]]
    )
    with pytest.raises(OutsideRegionError, match="out of range.*row 2"):
        read_facilities(path, catalog=catalog)


def test_metres_declared_as_wgs84_hint(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["category", "x", "y"], [["park", 404000.0, 3392000.0]])
    with pytest.raises(OutsideRegionError, match="EPSG:32648"):
        read_facilities(path, catalog=catalog)


def test_outside_bbox_error_and_drop(tmp_path, catalog, caplog):
    path = write_csv(
        tmp_path / "f.csv",
        ["facility_id", "category", "lon", "lat"],
        [["in", "park", 104.06, 30.65], ["far", "park", 116.39, 39.9], ["in2", "park", 104.1, 30.7]],
    )
    with pytest.raises(OutsideRegionError) as e:
        read_facilities(path, catalog=catalog, bbox=CHENGDU_BBOX)
    assert "row 2 ('far')" in str(e.value) and str(path) in str(e.value)
    with caplog.at_level(logging.WARNING, logger="circles.io"):
        gdf = read_facilities(path, catalog=catalog, bbox=CHENGDU_BBOX, on_outside="drop")
    assert gdf["facility_id"].tolist() == ["in", "in2"]
    assert "dropping" in caplog.text and "'far'" in caplog.text
    with pytest.raises(InputError, match="on_outside"):
        read_facilities(path, catalog=catalog, on_outside="ignore")


def test_duplicate_facility_ids(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv",
        ["facility_id", "category", "lon", "lat"],
        [["a", "park", 104.06, 30.65], ["a", "park", 104.07, 30.65]],
    )
    with pytest.raises(DataFileError, match="duplicate facility ids 'a'.*rows 1 \\('a'\\), 2"):
        read_facilities(path, catalog=catalog)


def test_many_bad_rows_are_truncated(tmp_path, catalog):
    rows = [["park", 104.06, 30.65, -1] for _ in range(15)]
    path = write_csv(tmp_path / "f.csv", ["category", "lon", "lat", "floor_area_m2"], rows)
    with pytest.raises(DataFileError, match=r"rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 … and 5 more"):
        read_facilities(path, catalog=catalog)


def test_unreadable_and_unsupported_files(tmp_path, catalog):
    with pytest.raises(DataFileError, match="file not found"):
        read_facilities(tmp_path / "nope.csv", catalog=catalog)
    bad = tmp_path / "f.xlsx"
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_facilities(bad, catalog=catalog)
    junk = tmp_path / "f.gpkg"
    junk.write_bytes(b"not a geopackage at all")
    with pytest.raises(DataFileError, match="cannot read"):
        read_facilities(junk, catalog=catalog)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataFileError):
        read_facilities(empty, catalog=catalog)
    with pytest.raises(CoordinateSystemError):
        read_facilities(empty, crs="mars", catalog=catalog)


# --- communities ---------------------------------------------------------------------------------


def community_features(n=3):
    feats = []
    for i in range(n):
        x0 = 104.05 + 0.01 * i
        feats.append(
            (
                {"community_id": f"C{i}", "name": f"社区{i}", "households": 1000 + i, "population": 2500},
                shapely.geometry.mapping(box(x0, 30.65, x0 + 0.008, 30.658)),
            )
        )
    return feats


def test_read_communities_geojson_defaults(tmp_path, caplog):
    path = write_geojson(tmp_path / "c.geojson", community_features())
    with caplog.at_level(logging.INFO, logger="circles.io"):
        gdf = read_communities(path)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns[:6]) == ["community_id", "name", "type", "households", "population", "district"]
    assert gdf["type"].tolist() == ["urban"] * 3
    assert gdf["households"].tolist() == [1000, 1001, 1002]
    assert gdf["district"].isna().all()
    assert "no 'type' column" in caplog.text


def test_read_communities_gpkg_utm_with_id_alias_and_types(tmp_path):
    polys = [box(404000 + 600 * i, 3392000, 404500 + 600 * i, 3392500) for i in range(3)]
    src = gpd.GeoDataFrame(
        {"id": [1, 2, 3], "type": ["urban", "乡村", "Industrial"], "district": ["锦江区"] * 3},
        geometry=polys,
        crs="EPSG:32648",
    )
    path = tmp_path / "c.gpkg"
    src.to_file(path, driver="GPKG")
    gdf = read_communities(path)
    assert gdf["community_id"].tolist() == ["1", "2", "3"]
    assert gdf["name"].tolist() == ["1", "2", "3"]
    assert gdf["type"].tolist() == ["urban", "rural", "industrial"]
    back = gdf.to_crs("EPSG:32648")
    assert np.allclose(back.area, 250000, rtol=1e-6)


def test_duplicate_community_ids(tmp_path):
    feats = community_features()
    feats[2][0]["community_id"] = "C0"
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(DataFileError, match="duplicate community ids 'C0'.*rows 1 \\('C0'\\), 3"):
        read_communities(path)


def test_bad_community_type(tmp_path):
    feats = community_features()
    for (props, _), t in zip(feats, ["urban", "suburban", "rural"]):
        props["type"] = t
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(DataFileError, match="'suburban'.*row 2 \\('C1'\\)"):
        read_communities(path)


def test_invalid_polygon_repaired_with_warning(tmp_path, caplog):
    bowtie = Polygon([(104.05, 30.65), (104.06, 30.66), (104.06, 30.65), (104.05, 30.66)])
    feats = community_features(1) + [({"community_id": "bow"}, shapely.geometry.mapping(bowtie))]
    path = write_geojson(tmp_path / "c.geojson", feats)
    with caplog.at_level(logging.WARNING, logger="circles.io"):
        gdf = read_communities(path)
    assert gdf.is_valid.all() and gdf.geom_type.iloc[1] == "MultiPolygon"
    assert "make_valid" in caplog.text and "'bow'" in caplog.text


def test_empty_community_geometry(tmp_path):
    feats = community_features(2) + [({"community_id": "x"}, None)]
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(DataFileError, match="missing or empty geometry: row 3 \\('x'\\)"):
        read_communities(path)


def test_community_points_rejected_and_negative_population(tmp_path):
    path = write_geojson(
        tmp_path / "p.geojson", [({"community_id": "a"}, {"type": "Point", "coordinates": [104, 30]})]
    )
    with pytest.raises(DataFileError, match="must be polygons"):
        read_communities(path)
    feats = community_features()
    feats[1][0]["population"] = -5
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(DataFileError, match="'population' must be a number >= 0.*row 2 \\('C1'\\)"):
        read_communities(path)


def test_community_missing_id_column_and_csv(tmp_path):
    feats = community_features(1)
    del feats[0][0]["community_id"]
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(DataFileError, match="no 'community_id'"):
        read_communities(path)
    csv_path = write_csv(tmp_path / "c.csv", ["community_id", "lon", "lat"], [["a", 104, 30]])
    with pytest.raises(DataFileError, match="polygon geometry"):
        read_communities(csv_path)


def test_communities_outside_bbox(tmp_path):
    feats = community_features(1) + [
        ({"community_id": "bj"}, shapely.geometry.mapping(box(116.3, 39.9, 116.31, 39.91)))
    ]
    path = write_geojson(tmp_path / "c.geojson", feats)
    with pytest.raises(OutsideRegionError, match="row 2 \\('bj'\\)"):
        read_communities(path, bbox=CHENGDU_BBOX)


def test_communities_gcj02(tmp_path):
    poly = box(104.05, 30.65, 104.058, 30.658)
    shifted = shapely.transform(poly, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])))
    path = write_geojson(tmp_path / "c.geojson", [({"community_id": "a"}, shapely.geometry.mapping(shifted))])
    gdf = read_communities(path, crs="gcj02")
    xy = shapely.get_coordinates(gdf.geometry.iloc[0])
    ref = shapely.get_coordinates(poly)
    assert metres(xy[:, 0], xy[:, 1], ref[:, 0], ref[:, 1]).max() < 1.0


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
        check_declared_crs(read_facilities(path, catalog=catalog), "wgs84", dist)
    check_declared_crs(read_facilities(path, crs="gcj02", catalog=catalog), "gcj02", dist)
