"""Tests for reading planners' own registers: per-file coordinate systems (declared or stored, refused when
neither), Chinese and English headers and category names, Excel sheets as people lay them out, and input
files bounded (regular files only, size limits, large CSVs in chunks)."""

import logging
import os
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box
from user_files import CHENGDU_BBOX, KNOWN, TO_UTM, metres, write_csv, write_geojson, write_xlsx

from circles.catalog import load_catalog
from circles.errors import CoordinateSystemError, DataFileError, OutsideRegionError, UnknownCategoryError
from circles.io import MAX_INPUT_BYTES, read_candidates, read_communities, read_facilities
from circles.io.coords import wgs84_to_gcj02
from circles.io.file_spec import FileSpec


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# --- coordinate systems, per file ----------------------------------------------------------------


def test_csv_without_declared_crs_is_refused_naming_the_choices(tmp_path, catalog):
    path = write_csv(tmp_path / "canteens.csv", ["类别", "经度", "纬度"], [["社区食堂", 104.0657, 30.6598]])
    with pytest.raises(CoordinateSystemError) as e:
        read_facilities(path, catalog=catalog)
    msg = str(e.value)
    assert str(path) in msg and f"{path}:gcj02" in msg  # the file, and the syntax to declare it
    for choice in ("wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:"):
        assert choice in msg
    book = write_xlsx(tmp_path / "canteens.xlsx", [["类别", "经度", "纬度"], ["社区食堂", 104.0657, 30.6598]])
    with pytest.raises(CoordinateSystemError, match="no coordinate system declared"):
        read_facilities(book, catalog=catalog)
    with pytest.raises(CoordinateSystemError, match="no coordinate system declared"):
        read_candidates(path)


def test_declared_in_the_file_name_or_as_crs(tmp_path, catalog):
    gx, gy = wgs84_to_gcj02(KNOWN[:, 0], KNOWN[:, 1])
    path = write_csv(
        tmp_path / "amap.csv", ["category", "lng", "lat"], [["canteen", x, y] for x, y in zip(gx, gy)]
    )
    for gdf in (
        read_facilities(f"{path}:gcj02", catalog=catalog),
        read_facilities(FileSpec(path, "gcj02"), catalog=catalog),
        read_facilities(path, crs="GCJ-02", catalog=catalog),
    ):
        assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), *KNOWN.T).max() < 1.0
        assert gdf.attrs["crs_read_as"] == "gcj02" and gdf.attrs["crs_declared"] == "gcj02"
        assert gdf.attrs["crs_from"] == "declared" and gdf.attrs["source_file"] == str(path)
    with pytest.raises(CoordinateSystemError, match="declared twice"):
        read_facilities(FileSpec(path, "gcj02"), crs="wgs84", catalog=catalog)
    with pytest.raises(CoordinateSystemError, match="unknown coordinate system 'mars'.*gcj02"):
        read_facilities(f"{path}:mars", catalog=catalog)


def test_geojson_without_declared_crs_is_wgs84(tmp_path, catalog):
    path = write_geojson(
        tmp_path / "f.geojson", [({"类别": "公园"}, {"type": "Point", "coordinates": [104.0657, 30.6598]})]
    )
    gdf = read_facilities(path, catalog=catalog)
    assert gdf.geometry.iloc[0].equals(Point(104.0657, 30.6598)) and gdf["category"].tolist() == ["park"]
    assert gdf.attrs["crs_read_as"] == "wgs84" and gdf.attrs["crs_from"] == "file"
    assert gdf.attrs["crs_declared"] is None
    declared = read_facilities(f"{path}:gcj02", catalog=catalog)  # a declaration overrides RFC 7946
    assert declared.attrs["crs_from"] == "declared" and declared.geometry.iloc[0].x != 104.0657


def test_gpkg_in_utm_uses_its_crs_and_refuses_degrees_declared(tmp_path, catalog):
    x, y = TO_UTM.transform(KNOWN[:, 0], KNOWN[:, 1])
    src = gpd.GeoDataFrame({"类型": ["社区食堂"] * 4}, geometry=gpd.points_from_xy(x, y), crs="EPSG:32648")
    path = tmp_path / "utm.gpkg"
    src.to_file(path, driver="GPKG")
    gdf = read_facilities(path, catalog=catalog)
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), *KNOWN.T).max() < 0.01
    assert gdf.attrs["crs_read_as"] == "EPSG:32648" and gdf.attrs["crs_from"] == "file"
    for degrees in ("wgs84", "gcj02"):
        with pytest.raises(CoordinateSystemError, match="stores the projected coordinate system EPSG:32648"):
            read_facilities(path, crs=degrees, catalog=catalog)
    again = read_facilities(f"{path}:EPSG:32648", catalog=catalog)
    assert again.attrs["crs_from"] == "declared"


def test_cgcs2000_gauss_kruger_table_with_its_epsg(tmp_path, catalog):
    import pyproj

    to_gk = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    x, y = to_gk.transform(KNOWN[:, 0], KNOWN[:, 1])
    path = write_csv(tmp_path / "gk.csv", ["类别", "X坐标", "Y坐标"], [["公园", a, b] for a, b in zip(x, y)])
    gdf = read_facilities(f"{path}:EPSG:4547", catalog=catalog)
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), *KNOWN.T).max() < 0.01
    with pytest.raises(OutsideRegionError, match=r"projected coordinates.*gk\.csv:EPSG:4547"):
        read_facilities(f"{path}:wgs84", catalog=catalog)


def test_shapefile_without_prj_is_refused_until_declared(tmp_path, catalog):
    src = gpd.GeoDataFrame(
        {"category": ["canteen"]}, geometry=gpd.points_from_xy(KNOWN[:1, 0], KNOWN[:1, 1]), crs="EPSG:4326"
    )
    shp = tmp_path / "fac.shp"
    src.to_file(shp)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CoordinateSystemError, match="no coordinate system declared"):
        read_facilities(shp, catalog=catalog)
    assert read_facilities(shp, crs="wgs84", catalog=catalog).attrs["crs_from"] == "declared"


# --- Chinese and English headers and category names ----------------------------------------------


def test_chinese_headed_csv_with_chinese_category_names(tmp_path, catalog):
    path = write_csv(
        tmp_path / "台账.csv",
        ["编号", "设施名称", "类别", "经度", "纬度", "建筑面积（㎡）", "所属社区", "备注"],
        [
            ["C1", "玉林社区食堂", "社区食堂", 104.0657, 30.6598, 120, "玉林社区", "午餐"],
            ["C2", "长者助餐点", "老年助餐点", 104.0712, 30.6631, '"1,200"', "芳草社区", ""],
            ["P1", "望江党群服务站", "小区党群服务站", 104.0583, 30.6502, "", "望江社区", ""],
            ["H1", "港湾", "Labourer_Harbour", 104.0801, 30.6455, "３５", "", ""],
        ],
    )
    gdf = read_facilities(f"{path}:wgs84", catalog=catalog)
    assert gdf["category"].tolist() == ["canteen", "canteen", "party_service_station", "labourer_harbour"]
    assert gdf["facility_id"].tolist() == ["C1", "C2", "P1", "H1"]
    assert gdf["name"].tolist() == ["玉林社区食堂", "长者助餐点", "望江党群服务站", "港湾"]
    np.testing.assert_array_equal(gdf["floor_area_m2"], [120.0, 1200.0, np.nan, 35.0])
    assert gdf["community"].tolist()[:3] == ["玉林社区", "芳草社区", "望江社区"]
    assert pd.isna(gdf["community"].iloc[3])
    assert list(gdf.columns[:6]) == [
        "facility_id",
        "category",
        "name",
        "floor_area_m2",
        "source",
        "community",
    ]
    assert "备注" in gdf.columns  # other columns are kept


@pytest.mark.parametrize(
    "lon,lat,cat",
    [
        ("经度(GCJ-02)", "纬度(GCJ-02)", "设施类型"),
        ("ＬＯＮ", "ＬＡＴ", "Category"),
        ("Longitude ", " Latitude", "类型"),
        ("东经", "北纬", "分类"),
    ],
)
def test_header_variants(tmp_path, catalog, lon, lat, cat):
    path = write_csv(tmp_path / "f.csv", [cat, lon, lat], [["公园绿地", 104.0657, 30.6598]])
    gdf = read_facilities(path, crs="wgs84", catalog=catalog)
    assert gdf["category"].tolist() == ["park"] and gdf.geometry.iloc[0].equals(Point(104.0657, 30.6598))


def test_unknown_headers_list_the_accepted_ones(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["设施", "种类", "东", "北"], [["a", "食堂", 104.06, 30.65]])
    with pytest.raises(DataFileError) as e:
        read_facilities(path, crs="wgs84", catalog=catalog)
    msg = str(e.value)
    assert "no longitude/latitude columns" in msg and "no 'category' column" in msg
    for accepted in ("经度", "lon", "lng", "纬度", "lat", "类别", "category", "类型"):
        assert accepted in msg
    assert "canteen (社区食堂)" in msg  # the category values accepted
    assert "columns found: 设施, 种类, 东, 北" in msg
    titled = tmp_path / "t.csv"
    titled.write_text("食堂名单\n名称,类别\n食堂,社区食堂\n", encoding="utf-8")  # a title, no coordinates
    with pytest.raises(DataFileError, match="no longitude/latitude columns.*columns found: 名称, 类别$"):
        read_facilities(titled, crs="wgs84", catalog=catalog)


def test_unknown_chinese_category_lists_accepted_names(tmp_path, catalog):
    path = write_csv(tmp_path / "f.csv", ["类别", "经度", "纬度"], [["健身房", 104.06, 30.65]])
    with pytest.raises(UnknownCategoryError, match="'健身房' in row 1") as e:
        read_facilities(path, crs="wgs84", catalog=catalog)
    assert "canteen (社区食堂)" in str(e.value) and "labourer_harbour (劳动者港湾)" in str(e.value)


def test_communities_with_chinese_headers(tmp_path):
    feats = [
        (
            {
                "编号": f"X{i}",
                "小区名称": f"小区{i}",
                "所属社区": "玉林社区",
                "所属街道": "玉林街道",
                "区": "武侯区",
                "户数（户）": 100 + i,
                "常住人口": "2,500",
                "社区类型": "城镇",
            },
            shapely.geometry.mapping(box(104.05 + 0.01 * i, 30.65, 104.058 + 0.01 * i, 30.658)),
        )
        for i in range(2)
    ]
    gdf = read_communities(write_geojson(tmp_path / "c.geojson", feats))
    assert gdf["community_id"].tolist() == ["X0", "X1"] and gdf["name"].tolist() == ["小区0", "小区1"]
    assert gdf["community"].tolist() == ["玉林社区"] * 2 and gdf["street"].tolist() == ["玉林街道"] * 2
    assert gdf["district"].tolist() == ["武侯区"] * 2 and gdf["type"].tolist() == ["urban"] * 2
    assert gdf["households"].tolist() == [100, 101] and gdf["population"].tolist() == [2500, 2500]
    assert gdf.attrs["crs_from"] == "file"


def test_community_rows_named_by_their_community_without_a_name_column(tmp_path):
    feats = [({"id": "1", "社区": "芳草社区"}, shapely.geometry.mapping(box(104.05, 30.65, 104.06, 30.66)))]
    gdf = read_communities(write_geojson(tmp_path / "c.geojson", feats))
    assert gdf["name"].tolist() == ["芳草社区"] and gdf["community"].tolist() == ["芳草社区"]


# --- Excel ---------------------------------------------------------------------------------------


def register_rows():
    """A register as people make them: a merged title, a two-row header with merged cells, 序号, numbers
    stored as text, a 社区 merged down its rows, a 合计 row, trailing blank rows and a blank column."""
    return [
        ["锦江区社区食堂台账（2024年）", None, None, None, None, None, None, None],
        ["序号", "名称", "类别", "位置", None, "面积（㎡）", "所属社区", None],
        [None, None, None, "经度", "纬度", None, None, None],
        [1, "书院街食堂", "社区食堂", "104.0657", 30.6598, 120, "书院街社区", None],
        [2, "长者助餐点", "老年助餐点", 104.0712, "30.6631", "80", None, None],
        [3, "督院街党群服务站", "党群服务站", 104.0583, 30.6502, None, "督院街社区", None],
        ["合计", None, None, None, None, 200, None, None],
        [None] * 8,
        [None] * 8,
    ]


REGISTER_MERGED = ("A1:H1", "A2:A3", "B2:B3", "C2:C3", "D2:E2", "F2:F3", "G2:G3", "G4:G5")


def test_xlsx_register_with_title_merged_header_and_total(tmp_path, catalog, caplog):
    path = write_xlsx(tmp_path / "register.xlsx", register_rows(), merged=REGISTER_MERGED)
    with caplog.at_level(logging.INFO, logger="circles.io"):
        gdf = read_facilities(f"{path}:wgs84", catalog=catalog)
    assert gdf["name"].tolist() == ["书院街食堂", "长者助餐点", "督院街党群服务站"]
    assert gdf["category"].tolist() == ["canteen", "canteen", "party_service_station"]
    assert gdf["facility_id"].tolist() == ["register:1", "register:2", "register:3"]  # 序号, per file
    np.testing.assert_array_equal(gdf["floor_area_m2"], [120.0, 80.0, np.nan])
    assert gdf["community"].tolist() == ["书院街社区", "书院街社区", "督院街社区"]  # merged down
    assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), *KNOWN[:3].T).max() < 0.01
    assert "total row 7" in caplog.text  # the 合计 row, numbered as Excel shows it
    assert gdf.attrs["crs_from"] == "declared"


def test_xlsx_two_row_header_without_merges_and_rows_named_as_excel_shows(tmp_path, catalog):
    rows = register_rows()
    rows[4][3] = None  # 长者助餐点 without longitude, on Excel row 5
    rows[5][4] = "北边"  # not a number, on Excel row 6
    path = write_xlsx(tmp_path / "r.xlsx", rows)  # the same layout, nothing merged
    with pytest.raises(DataFileError) as e:
        read_facilities(path, crs="wgs84", catalog=catalog)
    msg = str(e.value)
    assert "missing or non-numeric coordinates in columns '经度'/'纬度'" in msg
    assert "rows 5 ('长者助餐点'), 6 ('督院街党群服务站')" in msg and "r.xlsx#Sheet1" in msg


def test_xlsx_sheet_by_name_and_unknown_sheet(tmp_path, catalog):
    path = write_xlsx(
        tmp_path / "book.xlsx",
        [["类别", "经度", "纬度"], ["菜市场", 104.0657, 30.6598]],
        sheet="2024",
        more_sheets=("说明",),
    )
    gdf = read_facilities(f"{path}#2024:wgs84", catalog=catalog)
    assert gdf["category"].tolist() == ["food_market"]
    assert read_facilities(path, crs="wgs84", layer="2024", catalog=catalog)["category"].tolist() == [
        "food_market"
    ]
    with pytest.raises(DataFileError, match="no sheet '2025'; the sheets are: '2024', '说明'"):
        read_facilities(f"{path}#2025:wgs84", catalog=catalog)
    with pytest.raises(DataFileError, match="no longitude/latitude columns"):
        read_facilities(f"{path}#说明:wgs84", catalog=catalog)


def test_candidates_from_an_excel_sheet(tmp_path):
    gx, gy = wgs84_to_gcj02(KNOWN[:2, 0], KNOWN[:2, 1])
    path = write_xlsx(
        tmp_path / "sites.xlsx",
        [
            ["地块编号", "地块名称", "用地面积", "经度", "纬度"],
            ["S1", "街角空地", 350, gx[0], gy[0]],
            ["S2", "闲置厂房", "1,200", gx[1], gy[1]],
        ],
    )
    c = read_candidates(f"{path}:gcj02")
    assert c["site_id"].tolist() == ["S1", "S2"] and c["name"].tolist() == ["街角空地", "闲置厂房"]
    assert c["area_m2"].tolist() == [350.0, 1200.0] and c.attrs["crs_read_as"] == "gcj02"
    assert metres(c.geometry.x.to_numpy(), c.geometry.y.to_numpy(), *KNOWN[:2].T).max() < 1.0


# --- CSV layouts ---------------------------------------------------------------------------------


def test_csv_title_line_total_row_and_blank_lines(tmp_path, catalog, caplog):
    path = tmp_path / "t.csv"
    path.write_text(
        "成华区劳动者港湾名单,,,\n名称,类别,经度,纬度\n港湾一,劳动者港湾,104.0657,30.6598\n"
        "港湾二,劳动者港湾,104.0712,30.6631\n合计,,,\n,,,\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO, logger="circles.io"):
        gdf = read_facilities(path, crs="wgs84", catalog=catalog)
    assert gdf["name"].tolist() == ["港湾一", "港湾二"] and gdf["facility_id"].tolist() == ["t:1", "t:2"]
    assert "total row 3" in caplog.text


def test_csv_utf16_tab_separated(tmp_path, catalog):
    path = tmp_path / "unicode.txt"
    path.write_text("名称\t类别\t经度\t纬度\n公厕\t公共厕所\t104.0657\t30.6598\n", encoding="utf-16")
    assert read_facilities(path, crs="wgs84", catalog=catalog)["category"].tolist() == ["public_toilet"]


def test_csv_read_in_chunks_numbers_rows_across_chunks(tmp_path, catalog, monkeypatch):
    monkeypatch.setattr("circles.io._csv.CHUNK_ROWS", 3)
    rows = [[f"f{i}", "park", 104.06 + i * 1e-4, 30.65] for i in range(10)]
    path = write_csv(tmp_path / "f.csv", ["facility_id", "category", "lon", "lat"], rows)
    gdf = read_facilities(path, crs="wgs84", catalog=catalog)
    assert gdf["facility_id"].tolist() == [f"f{i}" for i in range(10)]
    np.testing.assert_allclose(gdf.geometry.x, [104.06 + i * 1e-4 for i in range(10)])
    rows[7][2] = "abc"
    write_csv(path, ["facility_id", "category", "lon", "lat"], rows)
    with pytest.raises(DataFileError, match=r"row 8 \('f7'\)"):
        read_facilities(path, crs="wgs84", catalog=catalog)


# --- the region ----------------------------------------------------------------------------------


def test_every_row_outside_the_region_is_an_error_even_when_dropping(tmp_path, catalog):
    path = write_csv(tmp_path / "bj.csv", ["category", "lon", "lat"], [["park", 116.39, 39.9]] * 2)
    with pytest.raises(OutsideRegionError, match="all 2 facilities are outside the region"):
        read_facilities(path, crs="wgs84", catalog=catalog, bbox=CHENGDU_BBOX, on_outside="drop")


# --- inputs bounded ------------------------------------------------------------------------------


def test_fifo_is_refused_without_hanging(tmp_path, catalog):
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            read_facilities(fifo, crs="wgs84", catalog=catalog)
        except Exception as e:
            outcome.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout=20)
    assert not t.is_alive(), "reading a FIFO hung"
    assert isinstance(outcome[0], DataFileError) and "FIFO" in str(outcome[0])
    assert "not a regular file" in str(outcome[0])


def test_symlink_to_dev_zero_and_directory_refused(tmp_path, catalog):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataFileError, match="character device, not a regular file"):
        read_facilities(link, crs="wgs84", catalog=catalog)
    folder = tmp_path / "d.geojson"
    folder.mkdir()
    with pytest.raises(DataFileError, match="a directory, not a regular file"):
        read_communities(folder)
    dangling = tmp_path / "gone.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(DataFileError, match="file not found"):
        read_facilities(dangling, crs="wgs84", catalog=catalog)


def test_oversize_files_refused_before_reading(tmp_path, catalog, monkeypatch):
    path = write_csv(tmp_path / "f.csv", ["category", "lon", "lat"], [["park", 104.06, 30.65]] * 50)
    monkeypatch.setitem(MAX_INPUT_BYTES, "csv", 100)
    with pytest.raises(DataFileError, match=r"f\.csv: 0\.0 MB is over the limit of 0 MB for a csv file"):
        read_facilities(path, crs="wgs84", catalog=catalog)
    book = write_xlsx(tmp_path / "b.xlsx", [["类别", "经度", "纬度"], ["公园", 104.06, 30.65]])
    monkeypatch.setitem(MAX_INPUT_BYTES, "excel", 100)
    with pytest.raises(DataFileError, match="over the limit .* for an Excel file; save the sheet as CSV"):
        read_facilities(book, crs="wgs84", catalog=catalog)
