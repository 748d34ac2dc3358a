"""Tests for reading a user's community boundaries (circles.io.communities): ids, types, numbers,
polygon repair, the region and coordinate systems. Chinese headers are in test_registers.py."""

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box
from user_files import CHENGDU_BBOX, metres, write_csv, write_geojson

from circles.errors import DataFileError, OutsideRegionError
from circles.io.communities import read_communities
from circles.io.coords import wgs84_to_gcj02

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
