"""The whole plan on the default region (figures checked for consistency) and on user files."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from circles.cli import app
from circles.config import shared_data_dir
from circles.errors import CoordinateSystemError
from circles.io.coords import wgs84_to_gcj02
from circles.io.file_spec import FileSpec
from circles.outputs.plan_files import write_outputs
from circles.pipeline import PlanOptions, plan


@pytest.fixture(scope="module")
def default_plan(default_plan_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    write_outputs(default_plan_result, out)
    return default_plan_result, out


def test_shares_are_fractions_and_weights_add_up(default_plan):
    res, _ = default_plan
    cov = res.coverage
    for col in ["covered_share", "share_5", "share_10", "share_15"]:
        assert cov[col].between(0, 1).all(), col
    # nested levels: a longer walk never covers less
    assert (cov["share_5"] <= cov["share_10"] + 1e-12).all() and (
        cov["share_10"] <= cov["share_15"] + 1e-12
    ).all()
    assert (cov["covered_weight"] <= cov["total_weight"] * (1 + 1e-9)).all()
    # every community's point weights add up to its area (area weighting: no population data)
    comm = res.data.communities
    tot = cov.groupby("community_row")["total_weight"].first().sort_index()
    np.testing.assert_allclose(tot.to_numpy(), comm["area_m2"].to_numpy(), rtol=1e-6)


def test_gap_rows_are_the_communities_below_target(default_plan):
    res, _ = default_plan
    cov, gaps = res.coverage, res.gaps
    short = cov[cov["applies"] & (cov["covered_share"] < cov["target_share"] - 1e-9)]
    cg = gaps[gaps["kind"] == "coverage"]
    assert len(cg) == len(short) > 0
    assert (cg["covered_share"] < cg["target_share"]).all()
    # uncovered area = (1 - share) x community area, and the list is sorted by severity
    comm = res.data.communities.set_index("community_id")
    expect = (1 - cg["covered_share"]) * comm.loc[cg["community_id"], "area_m2"].to_numpy()
    np.testing.assert_allclose(cg["uncovered_area_m2"], expect)
    assert cg["uncovered_residents"].isna().all()  # area-weighted: never passed off as people
    assert (np.diff(gaps["severity"].to_numpy()) <= 1e-9).all()
    assert list(gaps["severity_rank"]) == list(range(1, len(gaps) + 1))


def test_summary_matches_the_table(default_plan):
    res, out = default_plan
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["weight_kind"] == "area" and "AREA" in s["weighting"]
    assert "OpenStreetMap" in s["attribution"]
    cov = res.coverage
    for c in s["categories"]:
        g = cov[(cov["category"] == c["category"]) & cov["applies"]]
        share = (g["covered_share"] * g["total_weight"]).sum() / g["total_weight"].sum()
        assert c["covered_share"] == pytest.approx(share, abs=1e-4)
        assert c["communities_short"] == int((res.gaps["category"] == c["category"]).sum())
    assert s["park_service_coverage"]["target"] == 0.9
    assert s["sample_facilities"] > 0
    assert any("SAMPLE" in n for n in s["notes"])


def test_output_files(default_plan):
    res, out = default_plan
    cov = gpd.read_file(out / "coverage.geojson")
    assert len(cov) == len(res.data.communities) and cov.crs.to_epsg() == 4326
    assert {"canteen_share", "canteen_min", "park_share", "n_gaps"} <= set(cov.columns)
    gaps = pd.read_csv(out / "gaps.csv")
    assert len(gaps) == len(res.gaps)
    fac = json.loads((out / "facilities.geojson").read_text(encoding="utf-8"))
    sample = [f for f in fac["features"] if f["properties"]["source"] == "sample"]
    assert sample and all("示例" in f["properties"]["name"] for f in sample)
    assert "OpenStreetMap" in json.loads((out / "gaps.geojson").read_text(encoding="utf-8"))["attribution"]


def _user_inputs(tmp_path, net, gcj: bool):
    """Two square communities on real streets and canteens on street nodes, written as a user would."""
    lon0, lat0 = 104.0800, 30.6900
    comm = gpd.GeoDataFrame(
        {
            "community_id": ["A", "B"],
            "name": ["甲社区", "乙社区"],
            "type": ["urban", "rural"],
            "population": [3000, 1200],
        },
        geometry=[
            box(lon0, lat0, lon0 + 0.004, lat0 + 0.003),
            box(lon0 + 0.02, lat0, lon0 + 0.024, lat0 + 0.003),
        ],
        crs="EPSG:4326",
    )
    cpath = tmp_path / "communities.geojson"
    comm.to_file(cpath, driver="GeoJSON")
    # canteens at street nodes near A
    lon, lat = net.to_wgs84().transform(net.node_xy[:, 0], net.node_xy[:, 1])
    d = np.hypot(lon - (lon0 + 0.002), lat - (lat0 + 0.0015))
    pick = np.argsort(d)[[0, 5, 10]]
    flon, flat = wgs84_to_gcj02(lon[pick], lat[pick]) if gcj else (lon[pick], lat[pick])
    fpath = tmp_path / "canteens.csv"
    pd.DataFrame(
        {"category": "canteen", "name": ["甲食堂", "乙食堂", "丙食堂"], "lng": flon, "lat": flat}
    ).to_csv(fpath, index=False)
    return cpath, fpath


def test_user_files_in_gcj02(tmp_path, chengdu_net):
    cpath, fpath = _user_inputs(tmp_path, chengdu_net, gcj=True)
    opts = PlanOptions(
        communities=cpath,
        facilities=[FileSpec(fpath, "gcj02")],
        osm_facilities=False,
        categories=["canteen"],
    )
    res = plan(opts, tmp_path / "out")
    cov = res.coverage.set_index(
        res.data.communities["community_id"].to_numpy()[res.coverage["community_row"]]
    )
    assert cov.loc["A", "covered_share"] == 1.0 and cov.loc["A", "profile"] == "walk"
    assert cov.loc["B", "profile"] == "bike"  # rural: judged by bicycle
    assert res.data.weight_kind == "population"
    assert res.coverage["total_weight"].sum() == pytest.approx(4200)
    assert len(res.data.facilities) == 3 and (res.data.facilities["source"] == "user").all()


def test_gcj02_declared_as_wgs84_is_caught(tmp_path, chengdu_net):
    cpath, fpath = _user_inputs(tmp_path, chengdu_net, gcj=True)
    # add more canteens on street nodes so the check has enough points
    lon, lat = chengdu_net.to_wgs84().transform(chengdu_net.node_xy[::300, 0], chengdu_net.node_xy[::300, 1])
    inside = (lon > 104.05) & (lon < 104.12) & (lat > 30.66) & (lat < 30.72)
    glon, glat = wgs84_to_gcj02(lon[inside], lat[inside])
    pd.DataFrame({"category": "canteen", "lng": glon, "lat": glat}).to_csv(fpath, index=False)
    # points on streets only: a shift along a street can keep points on streets, so streets alone never
    # refuse a file; the check warns with its evidence and the plan says so
    res = plan(PlanOptions(communities=cpath, facilities=[f"{fpath}:wgs84"], categories=["canteen"]))
    check = res.summary["input_checks"][-1]["check"]
    assert check["status"] == "suspect" and check["alternative"] == "gcj02"
    assert any("WARNING" in n and "canteens.csv:gcj02" in n for n in res.data.notes)


def test_cli_plan_and_bad_category(tmp_path, chengdu_osm):
    runner = CliRunner()
    res = runner.invoke(
        app, ["plan", "--out", str(tmp_path / "o"), "--category", "canteen", "--category", "park"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "summary.json").exists()
    assert "most severe gaps" in res.output and "gaps.csv" in res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert [c["category"] for c in s["categories"]] == ["canteen", "park"]
    bad = runner.invoke(app, ["plan", "--out", str(tmp_path / "p"), "--category", "teahouse"])
    assert bad.exit_code == 2 and "teahouse" in bad.output and "Traceback" not in bad.output


def test_edits_give_the_same_result_as_a_fresh_plan(default_plan):
    """Deleting a base facility renumbers the table: every category must still name the right one."""
    from circles.pipeline import run_plan, with_facilities

    res, _ = default_plan
    fac = res.data.facilities
    first_park = fac.index[fac["category"] == "park"][0]
    edited = with_facilities(res, fac.drop(index=first_park), ["park"])
    import dataclasses

    fresh = run_plan(
        dataclasses.replace(res.data, facilities=fac.drop(index=first_park).reset_index(drop=True)),
        PlanOptions(),
    )
    cols = [
        "category",
        "community_row",
        "covered_share",
        "nearest_facility_id",
        "nearest_facility_row",
        "nearest_time_s",
    ]
    a = edited.coverage[cols].sort_values(["category", "community_row"]).reset_index(drop=True)
    b = fresh.coverage[cols].sort_values(["category", "community_row"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    for key in fresh.times:
        np.testing.assert_array_equal(edited.times[key].facility, fresh.times[key].facility)
    assert len(edited.gaps) == len(fresh.gaps)


def test_mixed_people_and_area_weights_are_refused(tmp_path, chengdu_osm):
    from circles.errors import InputError

    comm = gpd.GeoDataFrame(
        {"community_id": ["A", "B"], "name": ["甲", "乙"], "population": [3000, None]},
        geometry=[box(104.08, 30.69, 104.084, 30.693), box(104.10, 30.69, 104.104, 30.693)],
        crs="EPSG:4326",
    )
    comm.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match="1 of 2 communities"):
        plan(PlanOptions(communities=tmp_path / "c.geojson", categories=["canteen"]))


def test_gcj02_facilities_inside_blocks_are_caught(tmp_path, default_plan):
    """Real facilities (parks, schools… inside blocks, not on streets) exported from a GCJ-02 map."""
    res, _ = default_plan
    osm = res.data.facilities[res.data.facilities["source"] == "osm"].iloc[::2]
    glon, glat = wgs84_to_gcj02(osm.geometry.x.to_numpy(), osm.geometry.y.to_numpy())
    path = tmp_path / "pois.csv"
    pd.DataFrame(
        {"category": osm["category"].to_numpy(), "name": osm["name"].to_numpy(), "lon": glon, "lat": glat}
    ).to_csv(path, index=False)
    with pytest.raises(CoordinateSystemError, match="gcj02"):
        plan(PlanOptions(facilities=[FileSpec(path, "wgs84")], osm_facilities=True))
    ok = plan(PlanOptions(facilities=[FileSpec(path, "gcj02")], categories=["park"]))
    assert (ok.data.facilities["source"] == "user").sum() > 0
    assert ok.summary["input_checks"][0]["check"]["status"] == "ok"
    # the user may insist (--no-crs-check): the plan runs and says what the check found
    forced = plan(PlanOptions(facilities=[FileSpec(path, "wgs84")], categories=["park"], crs_check=False))
    assert forced.summary["input_checks"][0]["check"]["status"] == "refuse"
    assert any("OVERRIDDEN" in n for n in forced.data.notes)


def test_population_raster_gives_people(tmp_path, chengdu_osm):
    """A population GeoTIFF (persons per cell) turns the area weighting into residents."""
    import rasterio
    from rasterio.transform import from_origin

    lon0, lat0 = 104.0800, 30.6900
    comm = gpd.GeoDataFrame(
        {"community_id": ["A", "B"], "name": ["甲", "乙"]},
        geometry=[
            box(lon0, lat0, lon0 + 0.004, lat0 + 0.003),
            box(lon0 + 0.01, lat0, lon0 + 0.014, lat0 + 0.003),
        ],
        crs="EPSG:4326",
    )
    comm.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    # 0.001° cells over both communities: 10 persons per cell left of lon0 + 0.007, 30 to the right
    cols, rows = 20, 10
    data = np.where(np.arange(cols)[None, :] < 10, 10.0, 30.0).repeat(rows, axis=0).astype("float32")
    tif = tmp_path / "pop.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(lon0 - 0.003, lat0 + 0.005, 0.001, 0.001),
    ) as dst:
        dst.write(data, 1)
    res = plan(PlanOptions(communities=tmp_path / "c.geojson", population=tif, categories=["canteen"]))
    assert res.data.weight_kind == "raster"
    pop = res.data.communities.set_index("community_id")["population"]
    # A spans 4 x 3 cells of 10 persons, B 4 x 3 cells of 30 (cell centres inside the polygons)
    assert pop["A"] == pytest.approx(120, rel=0.35) and pop["B"] == pytest.approx(360, rel=0.35)
    assert pop["B"] > 2.5 * pop["A"]
    assert res.coverage["total_weight"].sum() == pytest.approx(pop.sum())
    gaps = res.gaps
    assert gaps["uncovered_residents"].notna().all()


def test_spreadsheet_outputs(default_plan):
    """CSV with BOM, rounded, 'unreachable' instead of inf; xlsx with bilingual headers, frozen header,
    README sheet; GeoJSON without Infinity."""
    import openpyxl

    res, out = default_plan
    raw = (out / "gaps.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    gaps = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    shares = gaps["covered_share_pct"].dropna()
    assert ((shares * 10).round() == shares * 10).all() and shares.between(0, 100).all()
    unreachable = np.isinf(res.gaps["nearest_time_min"].to_numpy(dtype=float))
    assert unreachable.any()  # the default region has communities no sample canteen reaches
    assert (gaps.loc[unreachable, "nearest_time_min"] == "unreachable 不可达").all()
    assert "inf" not in raw.decode("utf-8-sig").lower().replace("information", "")
    assert "Infinity" not in (out / "gaps.geojson").read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(out / "gaps.xlsx")
    assert wb.sheetnames[0] == "README 说明"
    ws = wb["缺失清单 gaps"]
    headers = [c.value for c in ws[1]]
    assert "覆盖比例(%) covered share (%)" in headers and ws.freeze_panes == "A2"
    assert ws.max_row == len(res.gaps) + 1
    readme = " ".join(str(r[0].value) for r in wb["README 说明"].iter_rows())
    assert "SAMPLE" in readme and "OpenStreetMap" in readme and "AREA" in readme


def test_formula_like_text_is_neutralised(tmp_path):
    from circles.outputs.tables import Column, Sheet, write_csv, write_xlsx

    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "普通"]
    frame = pd.DataFrame({"name": names, "v": [1, 2, 3, 4, 5]})
    cols = (Column("name", "name", "名称", "name"), Column("v", "v", "值", "value", "int"))
    write_csv(frame, cols, tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv", encoding="utf-8-sig", dtype=str)
    assert back["name"].tolist() == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "普通"]
    write_xlsx([Sheet("t", frame, cols)], ["readme"], tmp_path / "x.xlsx")
    import openpyxl

    ws = openpyxl.load_workbook(tmp_path / "x.xlsx")["t"]
    assert ws["A2"].data_type == "s" and ws["A2"].quotePrefix  # text, not a formula
    assert ws["A6"].value == "普通" and not ws["A6"].quotePrefix


def test_households_use_the_district_census_and_elderly_are_reported(tmp_path, chengdu_osm):
    """2020 census: 锦江 2.18 and 成华 2.41 persons per household; canteens serve the elderly, so the gap list
    reports uncovered residents aged 65+ with the district's share (锦江 12.97 %)."""
    from circles.io.districts import census_for

    census = census_for(str(shared_data_dir()))
    lon0, lat0 = 104.0800, 30.6900
    comm = gpd.GeoDataFrame(
        {
            "community_id": ["A", "B"],
            "name": ["甲", "乙"],
            "households": [1000, 1000],
            "district": ["锦江", "Chenghua"],
            "社区": ["水井坊社区", "不存在社区"],
        },
        geometry=[
            box(lon0, lat0, lon0 + 0.003, lat0 + 0.003),
            box(lon0 + 0.03, lat0, lon0 + 0.033, lat0 + 0.003),
        ],
        crs="EPSG:4326",
    )
    comm.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    reg = tmp_path / "canteens.csv"
    pd.DataFrame({"类别": ["社区食堂"], "经度": [lon0 + 0.0015], "纬度": [lat0 + 0.0015]}).to_csv(
        reg, index=False
    )
    res = plan(
        PlanOptions(
            communities=tmp_path / "c.geojson",
            facilities=[f"{reg}:wgs84"],
            categories=["canteen"],
            osm_facilities=False,
        )
    )
    c = res.data.communities.set_index("community_id")
    assert c.loc["A", "residents"] == pytest.approx(1000 * census["锦江区"].persons_per_household)
    assert c.loc["B", "residents"] == pytest.approx(1000 * census["成华区"].persons_per_household)
    assert c.loc["A", "district"] == "锦江"  # kept as given; matched for the census
    gap = res.gaps[(res.gaps["community_id"] == "B") & (res.gaps["category"] == "canteen")].iloc[0]
    assert gap["uncovered_elderly"] == pytest.approx(
        gap["uncovered_residents"] * census["成华区"].share_65plus
    )
    assert any("不存在社区" in n and "official 2023 list" in n for n in res.data.notes)
    assert not any("水井坊社区" in n for n in res.data.notes)
    # the workbook rolls up to the levels the file names: 社区 and 区, not the absent 街道
    import openpyxl

    write_outputs(res, tmp_path / "out")
    sheets = openpyxl.load_workbook(tmp_path / "out" / "gaps.xlsx", read_only=True).sheetnames
    assert "社区 community" in sheets and "区 district" in sheets and "街道 street" not in sheets


def test_resident_estimate_is_labelled_and_kept_apart(default_plan):
    """Without population data: area weighting, plus a census-spread ESTIMATE beside it (never as counts)."""
    from circles.io.districts import census_for

    res, out = default_plan
    comm = res.data.communities
    assert res.data.weight_kind == "area" and comm["residents"].isna().all()  # no counted people
    est = comm["residents_estimate"]
    census = census_for(str(shared_data_dir()))
    for district, grp in comm.groupby("district"):
        if district in census:  # never more people than the district has
            assert 0 < grp["residents_estimate"].sum() <= census[district].population
    assert (est.dropna() > 0).all()
    assert any(n.startswith("ESTIMATE") for n in res.data.notes)
    canteen = next(c for c in res.summary["categories"] if c["category"] == "canteen")
    assert "ESTIMATE" in canteen["residents_estimate"]["label"]
    gaps = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    assert "uncovered_residents_ESTIMATE" in gaps.columns and gaps["uncovered_residents"].isna().all()
