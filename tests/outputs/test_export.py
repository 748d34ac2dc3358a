"""Exports read back with pyogrio/GDAL and compared field by field; safe download names."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from circles import OSM_ATTRIBUTION
from circles.errors import InputError
from circles.outputs.export import (
    LAYER_ORDER,
    export,
    export_format,
    export_layers,
    safe_export_path,
    shapefile_field_names,
)
from circles.planning.sites import choose_sites

from synthetic_line import synthetic_candidates, synthetic_plan

OGRINFO = shutil.which("ogrinfo")


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    res = synthetic_plan(
        tmp_path_factory.mktemp("exp"), categories=("canteen", "party_service_station", "labourer_harbour")
    )
    ch = choose_sites(res, "canteen", 2, synthetic_candidates())
    return res, ch


def expected_values(gdf: gpd.GeoDataFrame, *, shapefile: bool) -> gpd.GeoDataFrame:
    """What a reader should get back: inf -> null, booleans 0/1 in DBF, empty text null in DBF."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(int) if shapefile else s
        elif pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype(float).replace([np.inf, -np.inf], np.nan)
    return out


def _text(v, shapefile):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    v = str(v)
    return None if (shapefile and v == "") else v


def assert_same(
    read: gpd.GeoDataFrame, expected: gpd.GeoDataFrame, *, shapefile: bool = False, layer: str = ""
):
    assert len(read) == len(expected), layer
    for col in expected.columns:
        if col == expected.geometry.name:
            continue
        assert col in read.columns, f"{layer}.{col} missing"
        a, b = read[col], expected[col]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_object_dtype(b):
            np.testing.assert_allclose(
                a.astype(float).to_numpy(),
                b.astype(float).to_numpy(),
                rtol=1e-9,
                atol=1e-9,
                equal_nan=True,
                err_msg=f"{layer}.{col}",
            )
        else:
            assert [_text(v, shapefile) for v in a] == [_text(v, shapefile) for v in b], f"{layer}.{col}"
    ga, gb = read.geometry.to_numpy(), expected.geometry.to_numpy()
    if len(ga):
        assert shapely.equals(ga, gb).all(), f"{layer} geometry"


# --- GeoPackage ----------------------------------------------------------------------------------


def test_geopackage_round_trip(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.gpkg", sites=ch)
    layers = export_layers(res, sites=ch)
    assert list(layers) == list(LAYER_ORDER)
    names = [n for n, _ in pyogrio.list_layers(path)]
    assert names == [*LAYER_ORDER, "export_info", "fields"]
    for name, gdf in layers.items():
        info = pyogrio.read_info(path, layer=name)
        assert info["crs"] == "EPSG:4326", name
        assert OSM_ATTRIBUTION in info["layer_metadata"]["DESCRIPTION"], name
        read = gpd.read_file(path, layer=name, engine="pyogrio")
        assert_same(read, expected_values(gdf, shapefile=False), layer=name)
        assert (read["attribution"] == OSM_ATTRIBUTION).all()
    sites = gpd.read_file(path, layer="sites", engine="pyogrio")
    assert (
        list(sites["name"]) == ["乙停车场", "丙绿地"]
        and list(sites["closes_gaps"])[0] == "测试小区1; 测试小区2; 测试小区5"
    )
    assert list(sites["baseline"]) == ["sample:1", "sample:1"]  # the existing canteen is SAMPLE data
    areas = gpd.read_file(path, layer="site_areas", engine="pyogrio")
    assert list(areas["site_id"]) == ["B"] and areas.geom_type.iat[0] == "MultiPolygon"
    comm = gpd.read_file(path, layer="communities", engine="pyogrio")
    assert comm["name"].iat[0] == "测试小区1" and "canteen_share" in comm and "sample_cats" in comm
    assert comm.set_index("community_id").loc["c7", "sample_cats"] == "canteen"
    iso = gpd.read_file(path, layer="isochrones", engine="pyogrio")
    assert set(iso["scenario"]) == {"existing", "with_sites"} and set(iso["minutes"]) == {5.0, 10.0, 15.0}
    assert set(iso["sources"]) == {"sample", "sample+new_sites"}
    # with the new sites the 15-minute area is larger
    a15 = iso[iso["minutes"] == 15].set_index("scenario")["area_m2"]
    assert a15["with_sites"] > a15["existing"]
    meta = pyogrio.read_dataframe(path, layer="export_info")
    kv = dict(zip(meta["key"], meta["value"]))
    assert kv["attribution"] == OSM_ATTRIBUTION and "SAMPLE" in kv["sample_data"]
    assert kv["sites_method"] == "MILP (HiGHS)" and kv["category"].startswith("canteen 社区食堂")
    fields = pyogrio.read_dataframe(path, layer="fields")
    assert (fields["description"] != "").all()


def test_geopackage_without_sites(line, tmp_path):
    res, _ = line
    path = export(res, tmp_path / "plan.gpkg")
    assert [n for n, _ in pyogrio.list_layers(path)] == ["communities", "gaps", "export_info", "fields"]
    path = export(res, tmp_path / "plan_cat.gpkg", category="canteen")
    assert "isochrones" in [n for n, _ in pyogrio.list_layers(path)]


# --- zipped Shapefile ----------------------------------------------------------------------------


def test_zipped_shapefile_round_trip(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.shp.zip", sites=ch)
    layers = export_layers(res, sites=ch)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for layer in layers:
            assert {f"{layer}{e}" for e in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names, layer
            assert z.read(f"{layer}.cpg").decode("ascii").strip() == "UTF-8"
            assert "WGS" in z.read(f"{layer}.prj").decode("ascii")
        readme = z.read("README.txt").decode("utf-8")
        fields_text = z.read("fields.csv").decode("utf-8-sig")
    assert OSM_ATTRIBUTION in readme and "UTF-8" in readme and "EPSG:4326" in readme and "SAMPLE" in readme
    fields = list(csv.DictReader(io.StringIO(fields_text)))
    for layer, gdf in layers.items():
        rows = [r for r in fields if r["layer"] == layer]
        full = [c for c in gdf.columns if c != gdf.geometry.name]
        assert [r["full_name"] for r in rows] == full
        short = [r["field"] for r in rows]
        assert all(len(s) <= 10 for s in short) and len({s.lower() for s in short}) == len(short)
        assert short == list(shapefile_field_names(full).values())
        vsi = f"/vsizip/{path}"
        assert pyogrio.read_info(vsi, layer=layer)["crs"] == "EPSG:4326"
        read = gpd.read_file(vsi, layer=layer, engine="pyogrio")
        assert [c for c in read.columns if c != "geometry"] == short
        read = read.rename(columns=dict(zip(short, full)))
        assert_same(read, expected_values(gdf, shapefile=True), shapefile=True, layer=layer)
    sites = gpd.read_file(f"/vsizip/{path}", layer="sites", engine="pyogrio")
    assert list(sites["name"]) == ["乙停车场", "丙绿地"] and (sites["attrib"] == OSM_ATTRIBUTION).all()
    assert list(sites["closes"])[0] == "测试小区1; 测试小区2; 测试小区5"


@pytest.mark.skipif(OGRINFO is None, reason="ogrinfo (gdal-bin) not installed")
def test_zipped_shapefile_opens_in_ogrinfo(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.shp.zip", sites=ch)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    out = subprocess.run(
        [OGRINFO, "-ro", "-so", f"/vsizip/{path}", "sites"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=True,
    ).stdout
    assert "Feature Count: 2" in out and 'ID["EPSG",4326]' in out and "Geometry: Point" in out
    out = subprocess.run(
        [OGRINFO, "-ro", "-al", "-q", f"/vsizip/{path}", "sites"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=True,
    ).stdout
    assert "name (String) = 乙停车场" in out and "closes (String) = 测试小区1; 测试小区2; 测试小区5" in out
    out = subprocess.run(
        [OGRINFO, "-ro", "-so", f"/vsizip/{path}"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=True,
    ).stdout
    for layer in LAYER_ORDER:
        assert f"{layer} (" in out


def test_long_text_is_cut_to_fit_dbf(line, tmp_path):
    res, ch = line
    long_name = "很长的名字" * 30  # 150 characters, 450 bytes of UTF-8
    ch.sites.loc[0, "name"] = long_name
    try:
        path = export(res, tmp_path / "long.shp.zip", sites=ch)
        gpk = export(res, tmp_path / "long.gpkg", sites=ch)
    finally:
        ch.sites.loc[0, "name"] = "乙停车场"
    got = gpd.read_file(f"/vsizip/{path}", layer="sites", engine="pyogrio")["name"].iat[0]
    assert len(got.encode("utf-8")) <= 254 and long_name.startswith(got) and len(got) == 84
    with zipfile.ZipFile(path) as z:
        assert "cut to fit DBF" in z.read("README.txt").decode("utf-8")
    assert gpd.read_file(gpk, layer="sites", engine="pyogrio")["name"].iat[0] == long_name


# --- GeoJSON -------------------------------------------------------------------------------------


def test_geojson_is_rfc7946_with_attribution(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.geojson", sites=ch)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert doc["attribution"] == OSM_ATTRIBUTION and doc["sample_data"]["used"] is True
    assert doc["metadata"]["sites_method"] == "MILP (HiGHS)"
    feats = doc["features"]
    assert [f["properties"]["site_id"] for f in feats] == ["B", "C"]
    assert feats[0]["geometry"]["type"] == "Polygon" and feats[1]["geometry"]["type"] == "Point"
    ring = shapely.LinearRing(feats[0]["geometry"]["coordinates"][0])
    assert ring.is_ccw  # RFC 7946: exterior rings counter-clockwise
    lon, lat = feats[1]["geometry"]["coordinates"]
    assert 100 < lon < 110 and 25 < lat < 35  # longitude first
    read = gpd.read_file(path, engine="pyogrio")
    assert read.crs == "EPSG:4326"
    assert_same(
        read, expected_values(ch.sites.assign(attribution=OSM_ATTRIBUTION), shapefile=False), layer="geojson"
    )
    assert feats[0]["properties"]["name"] == "乙停车场" and feats[0]["properties"][
        "new_residents"
    ] == pytest.approx(350)


def test_geojson_without_sites_is_the_communities(line, tmp_path):
    res, _ = line
    doc = json.loads(export(res, tmp_path / "c.geojson").read_text(encoding="utf-8"))
    assert doc["name"] == "communities" and len(doc["features"]) == len(res.data.communities)
    assert doc["features"][0]["properties"]["name"] == "测试小区1" and doc["attribution"] == OSM_ATTRIBUTION


# --- names ---------------------------------------------------------------------------------------


def test_export_format_by_suffix():
    assert export_format("a.gpkg") == "gpkg" and export_format("a.SHP.ZIP") == "shp.zip"
    assert export_format(Path("x/y.geojson")) == "geojson"
    for bad in ("a.shp", "a.zip", "a.json", ".gpkg", "a"):
        with pytest.raises(InputError):
            export_format(bad)


def test_shapefile_field_names_are_short_unique_and_documented():
    cols = [
        "community_id",
        "party_service_station_share",
        "party_service_station_min",
        "party_service_station_nearest",
        "party_service_centre_share",
        "party_service_centre_min",
        "nearest_facility_source",
        "uncovered_area_m2",
        "name",
        "Name",
        "x" * 12,
        "x" * 12 + "y",
        "名称",
        "1st",
    ]
    m = shapefile_field_names(cols)
    assert m == shapefile_field_names(cols)  # deterministic
    assert m["community_id"] == "comm_id" and m["party_service_station_share"] == "pss_share"
    assert m["party_service_station_min"] == "pss_min" and m["party_service_station_nearest"] == "pss_near"
    assert m["party_service_centre_share"] == "psc_share" and m["nearest_facility_source"] == "near_src"
    assert m["uncovered_area_m2"] == "unc_m2"
    assert m["name"] == "name" and m["Name"] == "Name1"
    assert m["x" * 12] == "x" * 10 and m["x" * 12 + "y"] == "x" * 9 + "1"
    assert m["名称"] == "field" and m["1st"] == "f1st"
    assert all(len(v) <= 10 for v in m.values()) and len({v.lower() for v in m.values()}) == len(cols)


@pytest.mark.parametrize(
    "name",
    [
        "../x.gpkg",
        "..",
        "a/../../b.gpkg",
        "/etc/passwd",
        "/tmp/x.gpkg",
        "sub/x.gpkg",
        "x\\..\\y.gpkg",
        "x.gpkg\x00",
        "x..gpkg",
        " x.gpkg",
        "x.gpkg ",
        "名字.gpkg",
        "x.exe",
        "x.gpkg.exe",
        ".gpkg",
        ".hidden.gpkg",
        "con.gpkg",
        "x;rm.gpkg",
        "%2e%2e%2fx.gpkg",
        "x" * 200 + ".gpkg",
        "",
        "x.shp",
    ],
)
def test_safe_export_path_refuses_escapes_and_odd_names(tmp_path, name):
    with pytest.raises(InputError):
        safe_export_path(tmp_path, name)


def test_safe_export_path_accepts_plain_names_and_refuses_links(tmp_path):
    d = tmp_path / "exports"
    d.mkdir()
    for ok in ("sites.gpkg", "sites_canteen-5.shp.zip", "Sites.GeoJSON", "a.b.geojson"):
        p = safe_export_path(d, ok)
        assert p.parent == d.resolve() and p.name == ok
    outside = tmp_path / "secret.gpkg"
    outside.write_text("x")
    (d / "link.gpkg").symlink_to(outside)
    with pytest.raises(InputError, match="link"):
        safe_export_path(d, "link.gpkg")
    (d / "inner.gpkg").write_text("y")
    (d / "alias.gpkg").symlink_to(d / "inner.gpkg")
    with pytest.raises(InputError, match="link"):
        safe_export_path(d, "alias.gpkg")
    (d / "dir.gpkg").mkdir()
    with pytest.raises(InputError):
        safe_export_path(d, "dir.gpkg")
    with pytest.raises(InputError):
        safe_export_path(d, 42)  # type: ignore[arg-type]
    # an export written through the safe path lands inside
    assert safe_export_path(d, "inner.gpkg") == (d / "inner.gpkg").resolve()


def test_export_writes_atomically_and_refuses_unknown_formats(line, tmp_path):
    res, ch = line
    with pytest.raises(InputError):
        export(res, tmp_path / "x.shp", sites=ch)
    with pytest.raises(InputError):
        export(res, tmp_path / "x.gpkg", sites=ch, category="park")
    export(res, tmp_path / "x.gpkg", sites=ch)
    export(res, tmp_path / "x.gpkg", sites=ch)  # overwrite: replaced whole, no duplicate layers
    assert len(pyogrio.list_layers(tmp_path / "x.gpkg")) == len(LAYER_ORDER) + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gpkg"]


# --- the default region, as a designer would --------------------------------------------------------


@pytest.fixture(scope="module")
def chengdu_sites(default_plan_result):
    res = default_plan_result
    return res, choose_sites(res, "canteen", 5)


def test_default_region_sites_reopen_in_gdal(chengdu_sites, tmp_path):
    res, ch = chengdu_sites
    s = ch.solution
    assert s.method == "MILP (HiGHS)" and s.optimal and 1 <= len(ch.sites) <= 5
    assert s.objective >= s.greedy_objective - 1e-6 and s.objective <= s.lp_bound + 1e-6
    assert ch.weight_kind == "area" and ch.sites["new_residents"].isna().all()
    assert (ch.sites["added_weight"] > 0).all() and ch.sites["added_weight"].sum() == pytest.approx(
        s.objective
    )
    assert ch.gaps_closed >= 1 and ch.baseline == {"sample": 6}
    gpkg = export(res, tmp_path / "chengdu_canteen.gpkg", sites=ch)
    shz = export(res, tmp_path / "chengdu_canteen.shp.zip", sites=ch)
    gj = export(res, tmp_path / "chengdu_canteen.geojson", sites=ch)
    for src in (str(gpkg), f"/vsizip/{shz}"):
        assert pyogrio.read_info(src, layer="sites")["features"] == len(ch.sites)
        comm = gpd.read_file(src, layer="communities", engine="pyogrio")
        assert comm.crs == "EPSG:4326" and len(comm) == len(res.data.communities)
        assert comm["name"].str.contains("[\u4e00-\u9fff]").any()  # Chinese names intact
        assert set(res.data.communities["name"]) == set(comm["name"])
    assert len(json.loads(gj.read_text(encoding="utf-8"))["features"]) == len(ch.sites)
    if OGRINFO:
        out = subprocess.run(
            [OGRINFO, "-ro", "-so", f"/vsizip/{shz}", "communities"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            check=True,
        ).stdout
        assert 'ID["EPSG",4326]' in out and f"Feature Count: {len(res.data.communities)}" in out


# --- coordinate systems --------------------------------------------------------------------------


def _close_in_wgs84(read: gpd.GeoDataFrame, expected: gpd.GeoDataFrame, tol_deg: float = 1e-6) -> None:
    a = read.to_crs("EPSG:4326").geometry.to_numpy()
    b = expected.to_crs("EPSG:4326").geometry.to_numpy()
    assert len(a) == len(b) and (shapely.hausdorff_distance(a, b) < tol_deg).all()


@pytest.mark.parametrize(
    "crs,epsg", [("cgcs2000-gk", 4544), ("EPSG:4490", 4490), ("cgcs2000", 4490), ("32648", 32648)]
)
def test_exports_read_back_in_the_stated_crs(line, tmp_path, crs, epsg):
    res, ch = line
    layers = export_layers(res, sites=ch)
    gpkg = export(res, tmp_path / "s.gpkg", sites=ch, crs=crs)
    shz = export(res, tmp_path / "s.shp.zip", sites=ch, crs=crs)
    for src in (str(gpkg), f"/vsizip/{shz}"):
        for name in ("sites", "site_areas", "communities", "isochrones"):
            assert pyogrio.read_info(src, layer=name)["crs"] == f"EPSG:{epsg}", (src, name)
            read = gpd.read_file(src, layer=name, engine="pyogrio")
            assert read.crs.to_epsg() == epsg
            _close_in_wgs84(read, layers[name])
    meta = pyogrio.read_dataframe(gpkg, layer="export_info")
    assert f"EPSG:{epsg}" in dict(zip(meta["key"], meta["value"]))["crs"]
    with zipfile.ZipFile(shz) as z:
        assert f"EPSG:{epsg}" in z.read("README.txt").decode("utf-8")
    if epsg == 4544:  # metres near the central meridian 105°E, no zone prefix
        x = gpd.read_file(gpkg, layer="sites", engine="pyogrio").geometry.x
        assert (300_000 < x).all() and (x < 500_000).all()
        assert "CM 105E" in dict(zip(meta["key"], meta["value"]))["crs"]


def test_geojson_in_another_crs_says_so(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "s.geojson", sites=ch, crs="cgcs2000-gk")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4544"
    assert doc["coordinate_system"].startswith("EPSG:4544")
    read = gpd.read_file(path, engine="pyogrio")
    assert read.crs.to_epsg() == 4544
    _close_in_wgs84(read, ch.sites)
    path = export(res, tmp_path / "g.geojson", sites=ch, crs="EPSG:4490")
    assert gpd.read_file(path, engine="pyogrio").crs.to_epsg() == 4490


def test_gcj02_export_is_shifted_and_marked(line, tmp_path):
    from circles.io.coords import wgs84_to_gcj02

    res, ch = line
    gpkg = export(res, tmp_path / "s.gpkg", sites=ch, crs="gcj02")
    shz = export(res, tmp_path / "s.shp.zip", sites=ch, crs="gcj02")
    gj = export(res, tmp_path / "s.geojson", sites=ch, crs="gcj02")
    pts = export_layers(res, sites=ch)["sites"]
    glon, glat = wgs84_to_gcj02(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    for src in (str(gpkg), f"/vsizip/{shz}"):
        read = gpd.read_file(src, layer="sites", engine="pyogrio")
        assert "GCJ-02" in read.crs.name and read.crs.to_epsg() is None
        np.testing.assert_allclose(read.geometry.x, glon, atol=1e-9)
        np.testing.assert_allclose(read.geometry.y, glat, atol=1e-9)
    doc = json.loads(gj.read_text(encoding="utf-8"))
    assert "crs" not in doc and doc["coordinate_system"].startswith("GCJ-02")
    with zipfile.ZipFile(shz) as z:
        assert (
            "GCJ-02" in z.read("sites.prj").decode("ascii") and "NOT WGS84" in z.read("README.txt").decode()
        )


def test_bad_crs_is_refused(line, tmp_path):
    from circles.outputs.export_crs import check_crs_spec, gk_zone_epsg

    res, ch = line
    for bad in ("foo", "EPSG:1", "EPSG:999999", "utm"):
        with pytest.raises(InputError):
            export(res, tmp_path / "x.gpkg", sites=ch, crs=bad)
    with pytest.raises(InputError, match="metres"):
        export(res, tmp_path / "x.dxf", sites=ch, crs="wgs84")
    with pytest.raises(InputError, match="metres"):
        check_crs_spec("EPSG:4490", "dxf")
    check_crs_spec("cgcs2000-gk", "dxf")
    assert gk_zone_epsg(104.07) == (4544, 105) and gk_zone_epsg(116.4) == (4548, 117)
    with pytest.raises(InputError):
        gk_zone_epsg(10.0)
    assert not list(tmp_path.iterdir())


def test_fields_have_readable_short_names_and_chinese_labels(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "s.shp.zip", sites=ch)
    with zipfile.ZipFile(path) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("fields.csv").decode("utf-8-sig"))))
    assert list(rows[0]) == ["layer", "field", "full_name", "label_zh", "type", "description"]
    short = {(r["layer"], r["full_name"]): r["field"] for r in rows}
    assert short["communities", "canteen_share"] == "cnt_share"
    assert short["sites", "suggested_floor_m2"] == "floor_m2" and short["sites", "width_m"] == "width_m"
    assert short["sites", "nearest_existing_m"] == "exist_m" and short["candidates", "reason"] == "reason"
    labels = {(r["layer"], r["full_name"]): r["label_zh"] for r in rows}
    assert labels["communities", "canteen_share"] == "社区食堂覆盖比例"
    assert labels["sites", "suggested_floor_m2"] == "建议建筑面积（m²）"
    assert all(r["label_zh"] and r["description"] for r in rows), [
        r["full_name"] for r in rows if not r["label_zh"]
    ]
