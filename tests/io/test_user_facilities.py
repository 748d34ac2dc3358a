"""Tests for reading a user's facility list (circles.io.facilities): file formats, coordinate systems,
columns and the errors that name offending rows. Excel registers, Chinese headers and input bounds are in
test_registers.py."""

import logging
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, box
from user_files import CHENGDU_BBOX, KNOWN, TO_UTM, metres, write_csv, write_geojson

from circles.catalog import load_catalog
from circles.errors import (
    CoordinateSystemError,
    DataFileError,
    InputError,
    OutsideRegionError,
    UnknownCategoryError,
)
from circles.io.coords import wgs84_to_bd09, wgs84_to_gcj02
from circles.io.facilities import read_facilities


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


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
    raw = read_facilities(path, crs="wgs84", catalog=catalog)
    assert metres(raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy(), KNOWN[:, 0], KNOWN[:, 1]).min() > 200
    assert gdf["source"].tolist() == ["user"] * 4
    assert gdf["name"].iloc[0] == "食堂"


@pytest.mark.parametrize("lon,lat", [("longitude", "latitude"), ("X", "Y"), ("lon", "lat"), ("Lng", "Lat")])
def test_csv_coordinate_column_names(tmp_path, catalog, lon, lat):
    path = write_csv(tmp_path / "f.csv", ["category", lon, lat], [[" Park ", 104.0657, 30.6598]])
    gdf = read_facilities(path, crs="wgs84", catalog=catalog)
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
    gdf = read_facilities(path, crs="wgs84", catalog=catalog)
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
        read_facilities(path, crs="wgs84", catalog=catalog)
    msg = str(e.value)
    assert "'gym' in rows 2, 3" in msg and "'cafe' in row 4" in msg
    assert str(path) in msg and "known categories" in msg and "canteen" in msg
    assert isinstance(e.value, ValueError)


def test_missing_category_column(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["name", "lon", "lat"], [["x", 104.06, 30.65]])
    with pytest.raises(DataFileError, match="no 'category' column") as e:
        read_facilities(path, crs="wgs84", catalog=catalog)
    assert "name" in str(e.value) and "canteen" in str(e.value)


def test_missing_coordinate_columns(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["category", "east", "north"], [["park", 1, 2]])
    with pytest.raises(DataFileError, match="no longitude/latitude columns"):
        read_facilities(path, crs="wgs84", catalog=catalog)


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
        read_facilities(path, crs="wgs84", catalog=catalog)
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
        read_facilities(path, crs="wgs84", catalog=catalog)


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
        read_facilities(path, crs="wgs84", catalog=catalog)


def test_metres_declared_as_wgs84_hint(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["category", "x", "y"], [["park", 404000.0, 3392000.0]])
    with pytest.raises(OutsideRegionError, match="EPSG:32648"):
        read_facilities(path, crs="wgs84", catalog=catalog)


def test_outside_bbox_error_and_drop(tmp_path, catalog, caplog):
    path = write_csv(
        tmp_path / "f.csv",
        ["facility_id", "category", "lon", "lat"],
        [["in", "park", 104.06, 30.65], ["far", "park", 116.39, 39.9], ["in2", "park", 104.1, 30.7]],
    )
    with pytest.raises(OutsideRegionError) as e:
        read_facilities(path, crs="wgs84", catalog=catalog, bbox=CHENGDU_BBOX)
    assert "row 2 ('far')" in str(e.value) and str(path) in str(e.value)
    with caplog.at_level(logging.WARNING, logger="circles.io"):
        gdf = read_facilities(path, crs="wgs84", catalog=catalog, bbox=CHENGDU_BBOX, on_outside="drop")
    assert gdf["facility_id"].tolist() == ["in", "in2"]
    assert "dropping" in caplog.text and "'far'" in caplog.text
    with pytest.raises(InputError, match="on_outside"):
        read_facilities(path, crs="wgs84", catalog=catalog, on_outside="ignore")


def test_duplicate_facility_ids(tmp_path, catalog):
    path = write_csv(
        tmp_path / "f.csv",
        ["facility_id", "category", "lon", "lat"],
        [["a", "park", 104.06, 30.65], ["a", "park", 104.07, 30.65]],
    )
    with pytest.raises(DataFileError, match="duplicate facility ids 'a'.*rows 1 \\('a'\\), 2"):
        read_facilities(path, crs="wgs84", catalog=catalog)


def test_many_bad_rows_are_truncated(tmp_path, catalog):
    rows = [["park", 104.06, 30.65, -1] for _ in range(15)]
    path = write_csv(tmp_path / "f.csv", ["category", "lon", "lat", "floor_area_m2"], rows)
    with pytest.raises(DataFileError, match=r"rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 … and 5 more"):
        read_facilities(path, crs="wgs84", catalog=catalog)


def test_unreadable_and_unsupported_files(tmp_path, catalog):
    with pytest.raises(DataFileError, match="file not found"):
        read_facilities(tmp_path / "nope.csv", crs="wgs84", catalog=catalog)
    bad = tmp_path / "f.dwg"
    bad.write_bytes(b"AC1032")
    with pytest.raises(DataFileError, match="unsupported file type") as e:
        read_facilities(bad, crs="wgs84", catalog=catalog)
    assert "Excel (.xlsx)" in str(e.value) and "CSV" in str(e.value)
    broken = tmp_path / "f.xlsx"
    broken.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataFileError, match="cannot read as an Excel workbook"):
        read_facilities(broken, crs="wgs84", catalog=catalog)
    old = tmp_path / "f.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(
        DataFileError, match=r"old Excel format \(\.xls\).*save it as an Excel workbook \(\.xlsx\)"
    ):
        read_facilities(old, crs="wgs84", catalog=catalog)
    junk = tmp_path / "f.gpkg"
    junk.write_bytes(b"not a geopackage at all")
    with pytest.raises(DataFileError, match="cannot read"):
        read_facilities(junk, catalog=catalog)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataFileError):
        read_facilities(empty, crs="wgs84", catalog=catalog)
    with pytest.raises(CoordinateSystemError):
        read_facilities(empty, crs="mars", catalog=catalog)
