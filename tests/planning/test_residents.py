"""Tests for circles.planning.residents: resident points and population rasters."""

import logging

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from circles.errors import DataFileError, InputError
from circles.planning.residents import (
    PERSONS_PER_HOUSEHOLD,
    population_from_raster,
    raster_values_at,
    resident_points,
)

UTM = "EPSG:32648"
X0, Y0 = 404000.0, 3392000.0  # near 天府广场, UTM 48N metres
CELL = 100.0


def communities(**cols):
    n = len(next(iter(cols.values()))) if cols else 1
    polys = [box(X0 + 600 * i, Y0, X0 + 600 * i + 500, Y0 + 500) for i in range(n)]
    data = {"community_id": [f"C{i}" for i in range(n)], **cols}
    return gpd.GeoDataFrame(data, geometry=polys, crs=UTM)


@pytest.fixture
def raster(tmp_path):
    """A 10 x 20 raster of 100 m cells, top-left at (X0, Y0 + 1000), persons per cell = row*20 + col,
    with some zero cells and one nodata cell."""
    data = np.arange(200, dtype="float32").reshape(10, 20)
    data[6:8, 1:3] = 0.0
    data[9, 19] = -9999.0
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=10,
        width=20,
        count=1,
        dtype="float32",
        crs=UTM,
        transform=from_origin(X0, Y0 + 1000, CELL, CELL),
        nodata=-9999.0,
    ) as ds:
        ds.write(data, 1)
    return path, data


def test_weights_sum_to_population():
    comm = communities(population=[1000.0, 2500.0])
    pts = resident_points(comm)
    sums = pts.groupby("community_id")["weight"].sum()
    assert sums["C0"] == pytest.approx(1000) and sums["C1"] == pytest.approx(2500)
    assert set(pts["weight_kind"]) == {"population"} and pts.attrs["weight_kind"] == "population"
    assert pts.crs == comm.crs and list(pts.columns) == ["community_id", "weight", "weight_kind", "geometry"]
    for cid, poly in zip(comm["community_id"], comm.geometry):
        sel = pts[pts["community_id"] == cid]
        assert poly.contains(sel.geometry).all()
        assert 4 <= len(sel) <= 200
        # the 500 m square on a 50 m grid aligned to multiples of 50: 10 x 10 points
        assert len(sel) == 100


def test_weights_from_households_and_area():
    comm = communities(households=[400.0, np.nan])
    pts = resident_points(comm)
    sums = pts.groupby("community_id")["weight"].sum()
    assert sums["C0"] == pytest.approx(400 * PERSONS_PER_HOUSEHOLD) == pytest.approx(996.0)
    assert sums["C1"] == pytest.approx(250000.0)  # area in m²
    kinds = pts.groupby("community_id")["weight_kind"].first()
    assert kinds.to_dict() == {"C0": "households", "C1": "area"}
    assert pts.attrs["weight_kind"] == "mixed"


def test_area_weights_when_no_counts():
    pts = resident_points(communities(name=["a", "b"]))
    assert pts.attrs["weight_kind"] == "area"
    assert pts.groupby("community_id")["weight"].sum().tolist() == pytest.approx([250000.0, 250000.0])


def test_population_preferred_over_households():
    pts = resident_points(communities(population=[100.0], households=[1000.0]))
    assert pts["weight"].sum() == pytest.approx(100.0)
    assert set(pts["weight_kind"]) == {"population"}


def test_max_points_thinning_and_min_points():
    big = gpd.GeoDataFrame(
        {"community_id": ["big", "tiny", "sliver"], "population": [5e4, 10.0, 3.0]},
        geometry=[
            box(X0, Y0, X0 + 5000, Y0 + 5000),
            box(X0, Y0, X0 + 20, Y0 + 20),
            box(X0, Y0, X0 + 3000, Y0 + 1),
        ],
        crs=UTM,
    )
    pts = resident_points(big, spacing_m=50, max_points=200, min_points=4)
    counts = pts["community_id"].value_counts()
    assert 100 <= counts["big"] <= 200
    assert counts["tiny"] >= 4 and counts["sliver"] >= 4
    for cid, poly in zip(big["community_id"], big.geometry):
        sel = pts[pts["community_id"] == cid]
        assert poly.buffer(1e-6).contains(sel.geometry).all()
    assert pts.groupby("community_id")["weight"].sum().to_dict() == pytest.approx(
        {"big": 5e4, "tiny": 10.0, "sliver": 3.0}
    )
    again = resident_points(big, spacing_m=50, max_points=200, min_points=4)
    assert again.geometry.equals(pts.geometry)  # seeded: reproducible


def test_buildings_restrict_points():
    comm = communities(population=[1000.0, 500.0])
    blds = gpd.GeoDataFrame(
        geometry=[box(X0 + 100, Y0 + 100, X0 + 220, Y0 + 180), box(X0 + 300, Y0 + 300, X0 + 420, Y0 + 460)],
        crs=UTM,
    ).to_crs("EPSG:4326")
    pts = resident_points(comm, buildings=blds)
    c0 = pts[pts["community_id"] == "C0"]
    inside = gpd.GeoSeries(blds.to_crs(UTM).union_all().buffer(1e-6), crs=UTM).iloc[0]
    assert inside.contains(c0.geometry).all() and len(c0) >= 4
    assert c0["weight"].sum() == pytest.approx(1000)
    c1 = pts[pts["community_id"] == "C1"]  # no buildings there: the whole polygon
    assert len(c1) == 100 and c1["weight"].sum() == pytest.approx(500)


def test_osm_buildings_feed_resident_points(chengdu_osm):
    """What the pipeline would call to spread residents over OSM building footprints."""
    from circles.io.osm_features import osm_communities, osm_residential_buildings

    comm = osm_communities(chengdu_osm).head(30).to_crs(UTM)
    comm["population"] = 1000.0
    blds = osm_residential_buildings(chengdu_osm)
    pts = resident_points(comm, buildings=blds)
    assert pts.groupby("community_id")["weight"].sum().to_numpy() == pytest.approx(1000.0)
    footprints = blds.to_crs(UTM)
    with_blds = set(footprints["community_id"]) & set(comm["community_id"])
    assert with_blds  # some of these communities have buildings mapped
    for cid in with_blds:
        own = comm.loc[comm["community_id"] == cid].geometry.iloc[0]
        inside = footprints[footprints.intersects(own)].union_all().intersection(own).buffer(1e-6)
        assert inside.contains(pts.loc[pts["community_id"] == cid].geometry).all()


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        resident_points(communities(population=[1.0]), 50.0)


def test_bad_inputs():
    with pytest.raises(InputError, match="metres"):
        resident_points(communities(population=[1.0]).to_crs("EPSG:4326"))
    with pytest.raises(InputError, match="min_points"):
        resident_points(communities(population=[1.0]), min_points=10, max_points=5)
    with pytest.raises(InputError, match="community_id"):
        resident_points(communities(population=[1.0]).drop(columns="community_id"))
    with pytest.raises(InputError, match=">= 0"):
        resident_points(communities(population=[-1.0]))


def test_raster_zonal_sum_equals_hand_sum(raster):
    path, data = raster
    # cells: rows from the top (y = Y0 + 1000 at row 0); the community squares cover y Y0..Y0+500 = rows 5..9
    comm = communities(name=["a", "b"])
    s = population_from_raster(comm, path)
    clean = np.where(data < 0, 0, data)
    assert s["C0"] == pytest.approx(clean[5:10, 0:5].sum())
    assert s["C1"] == pytest.approx(clean[5:10, 6:11].sum())
    assert s.name == "residents" and s.index.name == "community_id"
    # the same in a geographic CRS gives nearly the same (cell-centre test on reprojected polygons)
    s4326 = population_from_raster(comm.to_crs("EPSG:4326"), path)
    assert s4326.to_numpy() == pytest.approx(s.to_numpy())


def test_raster_weights_in_resident_points(raster):
    path, data = raster
    comm = communities(name=["a", "b"])
    pts = resident_points(comm, spacing_m=100, raster=path)
    assert set(pts["weight_kind"]) == {"raster"}
    sums = pts.groupby("community_id")["weight"].sum()
    expected = population_from_raster(comm, path)
    assert sums["C0"] == pytest.approx(expected["C0"]) and sums["C1"] == pytest.approx(expected["C1"])
    values = raster_values_at(pts, path)
    assert (pts.loc[values == 0, "weight"] == 0).all() and (values == 0).sum() >= 4
    # weights proportional to the cell under each point
    c0 = (pts["community_id"] == "C0").to_numpy()
    assert np.allclose(pts.loc[c0, "weight"], values[c0] * expected["C0"] / values[c0].sum())
    # census population is the total when present; the raster only distributes it
    pts2 = resident_points(communities(population=[10.0, 20.0]), spacing_m=100, raster=path)
    assert pts2.groupby("community_id")["weight"].sum().tolist() == pytest.approx([10.0, 20.0])


def test_raster_values_at(raster):
    path, data = raster
    pts = gpd.GeoSeries.from_xy(
        [X0 + 50, X0 + 1950, X0 + 5000, X0 + 1950], [Y0 + 950, Y0 + 950, Y0 + 950, Y0 + 50], crs=UTM
    )
    assert raster_values_at(pts, path).tolist() == [data[0, 0], data[0, 19], 0.0, 0.0]


def test_raster_no_overlap_warns(raster, caplog):
    path, _ = raster
    far = gpd.GeoDataFrame(
        {"community_id": ["far"]}, geometry=[box(X0 + 50000, Y0, X0 + 50500, Y0 + 500)], crs=UTM
    )
    with caplog.at_level(logging.WARNING, logger="circles.planning.residents"):
        s = population_from_raster(far, path)
    assert s["far"] == 0 and "does not overlap" in caplog.text


def test_unreadable_raster(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    comm = communities(name=["a"])
    with pytest.raises(DataFileError, match="cannot read as a raster"):
        population_from_raster(comm, bad)
    with pytest.raises(DataFileError, match="file not found"):
        population_from_raster(comm, tmp_path / "missing.tif")
    nocrs = tmp_path / "nocrs.tif"
    with rasterio.open(
        nocrs,
        "w",
        driver="GTiff",
        height=2,
        width=2,
        count=1,
        dtype="float32",
        transform=from_origin(X0, Y0 + 200, 100, 100),
    ) as ds:
        ds.write(np.ones((2, 2), dtype="float32"), 1)
    with pytest.raises(DataFileError, match="no coordinate system"):
        population_from_raster(comm, nocrs)


def test_small_polygon_gets_share_of_its_cell(raster):
    path, data = raster
    tiny = gpd.GeoDataFrame(
        {"community_id": ["t"]}, geometry=[box(X0 + 510, Y0 + 810, X0 + 530, Y0 + 830)], crs=UTM
    )
    s = population_from_raster(tiny, path)
    assert s["t"] == pytest.approx(data[1, 5] * 400 / 10000)
