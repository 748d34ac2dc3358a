"""Facilities, communities and buildings from OSM (circles.io.osm_features) and the authored sample layer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from circles.catalog import Catalog, load_catalog
from circles.config import get_region, project_data_dir
from circles.errors import DataFileError, InputError
from circles.io.osm_features import (
    BUILDING_COLUMNS,
    COMMUNITY_COLUMNS,
    FACILITY_COLUMNS,
    MIN_COMMUNITY_AREA_M2,
    UNNAMED_COMMUNITY,
    osm_communities,
    osm_facilities,
    osm_residential_buildings,
)

REGION = get_region("chengdu-central")
SAMPLE = project_data_dir() / "facilities" / "chengdu-central_sample.geojson"
# Focus categories the 2018 extract lacks; the sample layer supplies them.
NOT_IN_OSM = (
    "party_service_station",
    "party_service_centre",
    "community_complex",
    "canteen",
    "labourer_harbour",
    "elderly_care",
)

needs_extract = pytest.mark.skipif(
    not REGION.osm_path.exists(), reason=f"OSM extract absent: {REGION.osm_path}"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _in_bbox(geoms: gpd.GeoSeries, bbox: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    x, y = geoms.x.to_numpy(), geoms.y.to_numpy()
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


# --- the real extract ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def facilities(catalog: Catalog) -> gpd.GeoDataFrame:
    if not REGION.osm_path.exists():
        pytest.skip(f"OSM extract absent: {REGION.osm_path}")
    return osm_facilities(REGION.osm_path, catalog, bbox=REGION.bbox)


@pytest.fixture(scope="module")
def communities() -> gpd.GeoDataFrame:
    if not REGION.osm_path.exists():
        pytest.skip(f"OSM extract absent: {REGION.osm_path}")
    return osm_communities(REGION.osm_path, bbox=REGION.bbox, metric_crs=REGION.metric_crs)


@needs_extract
def test_facility_frame_shape(facilities: gpd.GeoDataFrame) -> None:
    assert list(facilities.columns) == [*FACILITY_COLUMNS, "geometry"]
    assert facilities.crs.to_epsg() == 4326
    assert (facilities.geometry.geom_type == "Point").all()
    assert (facilities["source"] == "osm").all()
    assert facilities["floor_area_m2"].isna().all()
    assert facilities["facility_id"].str.match(r"^osm:[nwr]\d+$").all()
    assert not facilities.duplicated(["facility_id", "category"]).any()
    assert _in_bbox(facilities.geometry, REGION.bbox).all()


@needs_extract
def test_facility_counts_match_the_extract(facilities: gpd.GeoDataFrame, catalog: Catalog) -> None:
    counts = facilities["category"].value_counts().to_dict()
    # SOURCE.md: 33 amenity=toilets, 26 leisure=park, 5 kindergartens, 52 schools inside the bbox.
    assert 30 <= counts.get("public_toilet", 0) <= 36
    assert counts.get("park", 0) > 20
    assert counts.get("kindergarten", 0) == 5
    assert 45 <= counts.get("primary_school", 0) <= 60
    assert counts.get("clinic", 0) >= 28  # 28 hospitals + 1 clinic + 2 doctors
    assert counts.get("food_market", 0) >= 25  # 13 marketplaces + 17 supermarkets (+ greengrocers)
    for key in NOT_IN_OSM:
        assert counts.get(key, 0) == 0, key
    assert set(counts) <= {c.key for c in catalog.values() if c.in_osm}


@needs_extract
def test_facility_rows_match_their_tags(facilities: gpd.GeoDataFrame, catalog: Catalog) -> None:
    for row in facilities.itertuples():
        tags = json.loads(row.osm_tags)
        assert catalog[row.category].matches(tags)
        assert row.name == (tags.get("name") or tags.get("name:zh") or "")


@needs_extract
def test_area_facilities_lie_inside_their_polygon(facilities: gpd.GeoDataFrame) -> None:
    parks = facilities[(facilities["category"] == "park") & facilities["facility_id"].str.startswith("osm:w")]
    assert len(parks) > 15
    import osmium
    from osmium.geom import WKBFactory

    wkb = WKBFactory()
    polys = {}
    for obj in osmium.FileProcessor(str(REGION.osm_path)).with_areas():
        if obj.is_area() and obj.from_way() and obj.tags.get("leisure") == "park":
            polys[f"osm:w{obj.orig_id()}"] = shapely.from_wkb(wkb.create_multipolygon(obj))
    for fid, pt in zip(parks["facility_id"], parks.geometry):
        assert polys[fid].contains(pt), fid


@needs_extract
def test_facilities_without_bbox_are_a_superset(facilities: gpd.GeoDataFrame, catalog: Catalog) -> None:
    everything = osm_facilities(REGION.osm_path, catalog)
    assert len(everything) >= len(facilities)
    pairs = set(zip(everything["facility_id"], everything["category"]))
    assert set(zip(facilities["facility_id"], facilities["category"])) <= pairs


@needs_extract
def test_communities_from_the_extract(communities: gpd.GeoDataFrame) -> None:
    c = communities
    assert list(c.columns) == [*COMMUNITY_COLUMNS, "geometry"]
    assert c.crs.to_epsg() == 4326
    assert len(c) > 100
    assert c["community_id"].is_unique
    assert c["community_id"].str.match(r"^osm:[wr]\d+$").all()
    assert c.geometry.is_valid.all() and not c.geometry.is_empty.any()
    assert c.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert (c["name"].str.strip() != "").all()
    assert (c["type"] == "urban").all() and (c["source"] == "osm landuse=residential").all()
    assert c["households"].isna().all() and c["population"].isna().all()
    assert (c["area_m2"] >= MIN_COMMUNITY_AREA_M2).all()
    # representative points inside the bbox
    assert _in_bbox(gpd.GeoSeries(c.geometry.representative_point(), crs=4326), REGION.bbox).all()
    # SOURCE.md: 178 of 186 residential areas are named; the 12 …社区 areas are among them
    assert (c["name"].str.startswith(UNNAMED_COMMUNITY)).sum() <= 8
    assert (c["name"].str.endswith("社区")).sum() >= 10


@needs_extract
def test_communities_do_not_overlap(communities: gpd.GeoDataFrame) -> None:
    metric = communities.to_crs(REGION.metric_crs)
    total = metric.area.sum()
    union = metric.geometry.union_all().area
    assert math.isclose(total, union, rel_tol=0.01)
    assert np.allclose(metric.area.to_numpy(), communities["area_m2"].to_numpy(), rtol=1e-6)


@needs_extract
def test_all_communities_without_bbox() -> None:
    c = osm_communities(REGION.osm_path)
    assert len(c) == 186  # every landuse=residential way of the extract is valid, > 2,000 m² and disjoint


@needs_extract
def test_residential_buildings_from_the_extract(communities: gpd.GeoDataFrame) -> None:
    b = osm_residential_buildings(REGION.osm_path, bbox=REGION.bbox, metric_crs=REGION.metric_crs)
    assert list(b.columns) == [*BUILDING_COLUMNS, "geometry"]
    assert b.crs.to_epsg() == 4326
    assert len(b) > 0
    assert b["building_id"].is_unique
    assert b["building"].isin(["residential", "apartments", "house", "yes"]).all()
    assert b["community_id"].isin(communities["community_id"]).all()
    assert (b["area_m2"] > 0).all() and b.geometry.is_valid.all()


# --- a hand-written extract ---------------------------------------------------------------------

LON0, LAT0 = 104.08, 30.68
M_LON = 1 / (111_320 * math.cos(math.radians(LAT0)))  # degrees per metre east
M_LAT = 1 / 110_574  # degrees per metre north


class OsmXml:
    """Builds a small OSM XML file; positions are metres east/north of (LON0, LAT0)."""

    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.relations: list[str] = []
        self._next = 1

    def node(self, x: float, y: float, tags: dict[str, str] | None = None, ident: int | None = None) -> int:
        ident = ident or self._take()
        body = _tags(tags)
        lon, lat = LON0 + x * M_LON, LAT0 + y * M_LAT
        if body:
            self.nodes.append(f'<node id="{ident}" lat="{lat:.8f}" lon="{lon:.8f}">{body}</node>')
        else:
            self.nodes.append(f'<node id="{ident}" lat="{lat:.8f}" lon="{lon:.8f}"/>')
        return ident

    def rect(self, way_id: int, x0: float, y0: float, x1: float, y1: float, tags: dict[str, str]) -> int:
        ids = [self.node(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        refs = "".join(f'<nd ref="{i}"/>' for i in [*ids, ids[0]])
        self.ways.append(f'<way id="{way_id}">{refs}{_tags(tags)}</way>')
        return way_id

    def write(self, path: Path) -> Path:
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
            + "\n".join(self.nodes + self.ways + self.relations)
            + "\n</osm>\n",
            encoding="utf-8",
        )
        return path

    def _take(self) -> int:
        self._next += 1
        return self._next


def _tags(tags: dict[str, str] | None) -> str:
    return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return LON0 + x * M_LON, LAT0 + y * M_LAT


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    osm = OsmXml()
    osm.node(10, 10, {"amenity": "toilets", "name": "公厕"}, ident=1001)
    osm.node(20, 20, {"amenity": "toilets", "access": "customers"}, ident=1002)  # not public
    osm.node(30, 30, {"shop": "bakery"}, ident=1003)  # no category
    osm.rect(2001, 100, 0, 200, 100, {"leisure": "park", "name": "测试公园"})
    osm.rect(2002, 0, 200, 100, 300, {"landuse": "residential", "name": "测试小区"})
    osm.rect(2003, 300, 300, 310, 310, {"building": "yes"})  # not inside residential landuse
    osm.rect(2004, 40, 240, 60, 260, {"building": "apartments", "building:levels": "6"})
    return osm.write(tmp_path / "tiny.osm")


def test_tiny_extract_facilities(tiny: Path, catalog: Catalog) -> None:
    f = osm_facilities(tiny, catalog)
    assert list(f["facility_id"]) == ["osm:w2001", "osm:n1001"]  # catalog order: park, then toilet
    assert list(f["category"]) == ["park", "public_toilet"]
    assert list(f["name"]) == ["测试公园", "公厕"]
    assert (f["source"] == "osm").all() and f["floor_area_m2"].isna().all()
    assert json.loads(f["osm_tags"].iloc[1]) == {"amenity": "toilets", "name": "公厕"}
    toilet = f.geometry.iloc[1]
    assert toilet.x == pytest.approx(_lonlat(10, 10)[0], abs=1e-7)
    assert toilet.y == pytest.approx(_lonlat(10, 10)[1], abs=1e-7)
    park = shapely.box(*_lonlat(100, 0), *_lonlat(200, 100))
    assert park.contains(f.geometry.iloc[0])


def test_tiny_extract_bbox(tiny: Path, catalog: Catalog) -> None:
    # a box around the toilet only
    box = (*_lonlat(0, 0), *_lonlat(50, 50))
    f = osm_facilities(tiny, catalog, bbox=box)
    assert list(f["facility_id"]) == ["osm:n1001"]
    assert len(osm_communities(tiny, bbox=box)) == 0
    with pytest.raises(InputError):
        osm_facilities(tiny, catalog, bbox=(104.1, 30.7, 104.0, 30.8))


def test_tiny_extract_communities(tiny: Path) -> None:
    c = osm_communities(tiny)
    assert len(c) == 1
    row = c.iloc[0]
    assert row["community_id"] == "osm:w2002"
    assert row["name"] == "测试小区"
    assert row["type"] == "urban" and row["source"] == "osm landuse=residential"
    assert math.isnan(row["households"]) and math.isnan(row["population"])
    assert row["area_m2"] == pytest.approx(100 * 100, rel=0.01)
    assert c.crs.to_epsg() == 4326
    square = shapely.box(*_lonlat(0, 200), *_lonlat(100, 300))
    # OSM stores coordinates to 1e-7 degrees (about 1 cm)
    assert c.geometry.iloc[0].symmetric_difference(square).area < 1e-3 * square.area


def test_tiny_extract_buildings(tiny: Path) -> None:
    b = osm_residential_buildings(tiny)
    assert list(b["building_id"]) == ["osm:w2004"]
    assert b["community_id"].iloc[0] == "osm:w2002"
    assert b["levels"].iloc[0] == 6.0
    assert b["area_m2"].iloc[0] == pytest.approx(400, rel=0.01)


def test_nested_and_small_residential_areas(tmp_path: Path) -> None:
    osm = OsmXml()
    osm.rect(1, 0, 0, 200, 200, {"landuse": "residential", "name": "外小区"})  # 40,000 m²
    osm.rect(2, 50, 50, 130, 130, {"landuse": "residential", "name": "内小区"})  # 6,400 m², nested
    osm.rect(3, 300, 0, 330, 30, {"landuse": "residential", "name": "小院"})  # 900 m²: dropped
    osm.rect(4, 400, 0, 500, 100, {"landuse": "residential"})  # 10,000 m², unnamed
    osm.rect(5, 450, 50, 560, 130, {"landuse": "residential", "name": "交叠"})  # 8,800 m², overlaps 4
    osm.rect(6, 600, 0, 650, 45, {"landuse": "residential", "name": "被切小"})  # 2,250 m²
    osm.rect(7, 620, 0, 667, 45, {"landuse": "residential", "name": "小邻"})  # 2,115 m², leaves 6 with 900
    c = osm_communities(osm.write(tmp_path / "nested.osm")).set_index("community_id")
    assert sorted(c.index) == ["osm:w1", "osm:w2", "osm:w4", "osm:w5", "osm:w7"]
    assert c.loc["osm:w2", "area_m2"] == pytest.approx(6_400, rel=0.01)
    assert c.loc["osm:w1", "area_m2"] == pytest.approx(40_000 - 6_400, rel=0.01)
    assert len(c.loc["osm:w1", "geometry"].interiors) == 1  # the inner compound is a hole
    assert c.loc["osm:w5", "area_m2"] == pytest.approx(8_800, rel=0.01)  # smaller one keeps the overlap
    assert c.loc["osm:w4", "area_m2"] == pytest.approx(10_000 - 2_500, rel=0.01)
    assert c.loc["osm:w4", "name"] == f"{UNNAMED_COMMUNITY} osm:w4"
    assert c.loc["osm:w7", "area_m2"] == pytest.approx(2_115, rel=0.01)
    metric = c.to_crs("EPSG:32648")
    assert metric.area.sum() == pytest.approx(metric.union_all().area, rel=1e-6)
    assert c.geometry.is_valid.all()


def test_invalid_residential_area_is_repaired(tmp_path: Path) -> None:
    osm = OsmXml()
    # a bow-tie (self-intersecting) ring: two 100 m x 50 m triangles
    ids = [osm.node(x, y) for x, y in ((0, 0), (100, 100), (100, 0), (0, 100))]
    refs = "".join(f'<nd ref="{i}"/>' for i in [*ids, ids[0]])
    osm.ways.append(f'<way id="9">{refs}<tag k="landuse" v="residential"/><tag k="name" v="蝴蝶"/></way>')
    c = osm_communities(osm.write(tmp_path / "bowtie.osm"))
    # libosmium refuses the ring; the raw ring is repaired with make_valid into two triangles
    assert list(c["community_id"]) == ["osm:w9"]
    assert c.geometry.is_valid.all() and not c.geometry.is_empty.any()
    assert c["area_m2"].iloc[0] == pytest.approx(5_000, rel=0.01)


def test_missing_or_bad_file(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(DataFileError):
        osm_facilities(tmp_path / "nope.osm", catalog)
    bad = tmp_path / "bad.osm"
    bad.write_text("this is not xml", encoding="utf-8")
    with pytest.raises(DataFileError):
        osm_communities(bad)
    with pytest.raises(DataFileError):
        osm_residential_buildings(tmp_path / "x.txt")


# --- the authored sample layer ------------------------------------------------------------------


def test_sample_layer_loads(catalog: Catalog) -> None:
    raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert raw["type"] == "FeatureCollection"
    assert raw["name"]
    assert raw["source"] == "sample — authored for testing and demonstration, not observed data"
    assert raw["crs_declared"] == "wgs84"

    s = gpd.read_file(SAMPLE)
    assert s.crs.to_epsg() == 4326
    assert len(s) == len(raw["features"]) > 0
    assert (s["source"] == "sample").all()
    assert s["facility_id"].str.startswith("sample:").all() and s["facility_id"].is_unique
    assert s["category"].isin(list(catalog.keys())).all()
    assert s["name"].str.contains("示例").all()
    assert s["note"].str.contains("not observed").all()
    assert (s.geometry.geom_type == "Point").all()
    assert _in_bbox(s.geometry, REGION.bbox).all()
    counts = s["category"].value_counts()
    for key in NOT_IN_OSM:
        assert counts.get(key, 0) >= 3, key
    centres = s[s["category"] == "party_service_centre"]
    assert (centres["floor_area_m2"] > 0).all()
