"""A service on the planner's own data: their communities (社区/街道 columns, households) and a GCJ-02
canteen register; gaps within any minutes, roll-ups per 社区/街道/区, districts and communities by name,
Excel and CSV out."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from api_files import USER_COMMUNITIES
from shapely.geometry import shape

from api.schemas import CommunityDetail, CommunityPage, GapPage, RollupPage

STREETS = {street for *_, street, _ in USER_COMMUNITIES}
IDS = {cid for cid, *_ in USER_COMMUNITIES}


def _coverage_shares(c, category, minutes):
    feats = c.get("/coverage", params={"category": category, "minutes": minutes}).json()["features"]
    return {f["properties"]["community_id"]: f["properties"]["covered_share"] for f in feats[1:]}


def test_communities_are_exactly_the_users(user_client):
    page = CommunityPage.model_validate(user_client.get("/communities").json())
    assert page.total == len(USER_COMMUNITIES) and {c.community_id for c in page.items} == IDS
    by_id = {c.community_id: c for c in page.items}
    for cid, name, shequ, street, households in USER_COMMUNITIES:
        c = by_id[cid]
        assert (c.name, c.community, c.street, c.district) == (name, shequ, street, "成华区")
        assert c.residents == pytest.approx(households * 2.41)  # 成华区, 2020 census
    health = user_client.get("/healthz").json()
    assert health["communities"] == len(USER_COMMUNITIES) and health["weight_kind"] == "households"
    fac = user_client.get("/facilities", params={"category": "canteen"}).json()
    assert fac["total"] == 2 and all(f["source"] == "user" for f in fac["items"])


def test_which_communities_lack_a_canteen_within_10_minutes(user_client):
    page = GapPage.model_validate(
        user_client.get("/gaps", params={"category": "canteen", "minutes": 10, "limit": 100}).json()
    )
    shares = _coverage_shares(user_client, "canteen", 10)
    short = {cid for cid, s in shares.items() if s < 0.95}
    assert page.total == len(short) > 0 and {g.community_id for g in page.items} == short
    assert all(g.threshold_min == 10 and g.category == "canteen" for g in page.items)
    assert all(g.covered_share == pytest.approx(shares[g.community_id], abs=1e-4) for g in page.items)
    # the category's own threshold (15 minutes) stays the default
    own = GapPage.model_validate(user_client.get("/gaps", params={"category": "canteen"}).json())
    assert all(g.threshold_min == 15 for g in own.items) and own.total <= page.total
    # names and aliases of the category answer the same
    for name in ("社区食堂", "长者食堂", "Community canteen"):
        same = GapPage.model_validate(
            user_client.get("/gaps", params={"category": name, "minutes": 10, "limit": 100}).json()
        )
        assert same == page, name


def test_gaps_roll_up_one_row_per_street(user_client):
    params = {"category": "canteen", "minutes": 10, "group_by": "street"}
    r = user_client.get("/gaps", params=params)
    assert r.status_code == 200, r.text
    page = RollupPage.model_validate(r.json())
    assert page.total == len(STREETS) == len(page.items) and {i.group for i in page.items} == STREETS
    assert page.group_by == "street" and page.minutes == 10 and page.weight_kind == "households"
    gaps = GapPage.model_validate(
        user_client.get("/gaps", params={"category": "canteen", "minutes": 10, "limit": 100}).json()
    )
    street_of = {cid: street for cid, *_, street, _ in USER_COMMUNITIES}
    for row in page.items:
        members = [cid for cid, s in street_of.items() if s == row.group]
        assert row.members == len(members) == 3 and row.level == "street"
        assert row.members_short == sum(street_of[g.community_id] == row.group for g in gaps.items)
        assert row.total_weight == pytest.approx(row.covered_weight + row.uncovered_weight)
        assert row.threshold_min == 10 and row.category == "canteen"
    uncovered = [i.uncovered_weight for i in page.items]
    assert uncovered == sorted(uncovered, reverse=True)
    # 社区 and 区 levels
    shequ = RollupPage.model_validate(
        user_client.get("/gaps", params={**params, "group_by": "community"}).json()
    )
    assert {i.group for i in shequ.items} == {s for _, _, s, _, _ in USER_COMMUNITIES}
    district = RollupPage.model_validate(
        user_client.get("/gaps", params={**params, "group_by": "district"}).json()
    )
    assert [(i.group, i.members) for i in district.items] == [("成华区", 6)]


def test_roll_up_of_every_category_and_its_filters(user_client):
    page = RollupPage.model_validate(
        user_client.get("/gaps", params={"group_by": "street", "level": 15, "limit": 1000}).json()
    )
    cats = {i.category for i in page.items}
    assert len(cats) > 1 and page.total == len(STREETS) * len(cats)
    assert user_client.get("/gaps", params={"group_by": "street", "kind": "capacity"}).status_code == 422
    r = user_client.get("/gaps", params={"group_by": "street", "min_area_m2": 1})
    assert r.status_code == 422 and "min_residents" in r.json()["detail"]
    big = RollupPage.model_validate(
        user_client.get("/gaps", params={"group_by": "street", "min_residents": 500, "limit": 1000}).json()
    )
    assert all(i.uncovered_weight >= 500 for i in big.items) and big.total < page.total + 100


def test_coverage_grouped_per_street_has_polygons(user_client):
    r = user_client.get("/coverage", params={"category": "canteen", "minutes": 10, "group_by": "street"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    assert feats[0]["properties"]["kind"] == "service_area"
    groups = feats[1:]
    assert {f["properties"]["group"] for f in groups} == STREETS
    assert all(shape(f["geometry"]).area > 0 and f["properties"]["members"] == 3 for f in groups)


@pytest.mark.parametrize("name", ["成华", "成华区", "Chenghua", "chenghua district"])
def test_district_names_are_resolved(user_client, name):
    page = CommunityPage.model_validate(user_client.get("/communities", params={"district": name}).json())
    assert page.total == len(USER_COMMUNITIES)
    gaps = user_client.get("/gaps", params={"district": name, "category": "canteen", "minutes": 10})
    assert gaps.status_code == 200 and gaps.json()["total"] > 0


@pytest.mark.parametrize("path", ["/communities", "/gaps"])
def test_unknown_district_lists_the_valid_ones(user_client, path):
    for name in ("Nowhere", "锦江区"):  # 锦江区 exists, but this plan has none of it
        r = user_client.get(path, params={"district": name})
        assert r.status_code == 422, (path, name)
        assert name in r.json()["detail"] and "成华区 (Chenghua)" in r.json()["detail"]


def test_community_by_id_or_name(user_client):
    det = CommunityDetail.model_validate(user_client.get("/communities/锦绣苑").json())
    assert det.community_id == "c1" and det.street == "猛追湾街道" and len(det.categories) >= 12
    assert CommunityDetail.model_validate(user_client.get("/communities/c3").json()).name == "石油小区"
    # one community of its 社区: found; several: 409 listing them
    assert user_client.get("/communities/石油社区").json()["community_id"] == "c3"
    r = user_client.get("/communities/建华社区")
    assert (
        r.status_code == 409 and r.json()["community_ids"] == ["c1", "c2"] and "c1, c2" in r.json()["detail"]
    )
    r = user_client.get("/communities/锦绣")
    assert r.status_code == 404 and r.json()["near"][0] == "锦绣苑" and "锦绣苑" in r.json()["detail"]


def test_gaps_excel_workbook(user_client):
    r = user_client.get("/gaps", params={"category": "canteen", "minutes": 10, "format": "xlsx"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[0].startswith("README") and len(wb.sheetnames) == 5  # gaps, 社区, 街道, 区
    readme = "\n".join(str(c.value) for c in wb.worksheets[0]["A"] if c.value)
    assert "category=canteen" in readme and "minutes=10" in readme and "OpenStreetMap" in readme
    ws = wb.worksheets[1]
    headers = [c.value for c in ws[1]]
    assert "小区编号 community id" in headers and "覆盖比例(%) covered share (%)" in headers
    assert "所属街道 街道 sub-district" in headers and ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == int(r.headers["x-total-count"]) > 0
    share = rows[0][headers.index("覆盖比例(%) covered share (%)")]
    assert 0 <= share <= 100 and share == round(share, 1)
    street = next(s for s in wb.worksheets if s.title.startswith("街道"))
    assert street.max_row == 1 + len(STREETS) and street["A1"].value == "设施类别 category"


def test_coverage_excel_workbook(user_client):
    r = user_client.get(
        "/coverage", params={"category": "社区食堂", "minutes": 10, "format": "xlsx", "group_by": "street"}
    )
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert [s.title for s in wb.worksheets][1:] == ["覆盖 coverage", "街道 street"]
    cov = wb.worksheets[1]
    assert cov.max_row == 1 + len(USER_COMMUNITIES) and cov["A1"].value == "小区编号 community id"
    thresholds = {row[0] for row in cov.iter_rows(min_row=2, min_col=8, max_col=8, values_only=True)}
    assert thresholds == {10}


def test_csv_is_utf8_with_bom(user_client):
    for path, params, rows in (
        ("/gaps", {"category": "canteen", "minutes": 10, "format": "csv"}, None),
        ("/gaps", {"category": "canteen", "minutes": 10, "format": "csv", "group_by": "street"}, 2),
        ("/coverage", {"category": "canteen", "format": "csv"}, len(USER_COMMUNITIES)),
    ):
        r = user_client.get(path, params=params)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), path
        assert r.content.startswith(b"\xef\xbb\xbf"), path
        table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(table) == (rows if rows is not None else int(r.headers["x-total-count"]))
        if "group_by" not in params:
            assert {row["street"] for row in table} <= STREETS
            assert all(
                "." not in row["covered_share_pct"] or len(row["covered_share_pct"].split(".")[1]) == 1
                for row in table
            )


def test_sites_download_in_gauss_kruger_and_dxf(chengdu_osm, tmp_path):
    """/sites?format=gpkg&crs=cgcs2000-gk writes the region's CGCS2000 3-degree GK zone; dxf works; a
    geographic crs for a DXF drawing is a 422."""
    import pyogrio
    from fastapi.testclient import TestClient

    from api import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(state_dir=tmp_path / "svc"))) as c:
        r = c.get("/sites", params={"category": "canteen", "k": 2, "format": "gpkg", "crs": "cgcs2000-gk"})
        assert r.status_code == 200, r.text
        gpkg = c.get(r.json()["download"])
        assert gpkg.status_code == 200
        path = tmp_path / "s.gpkg"
        path.write_bytes(gpkg.content)
        assert pyogrio.read_info(path, layer="sites")["crs"] == "EPSG:4544"
        dxf = c.get("/sites", params={"category": "社区食堂", "k": 2, "format": "dxf"})
        assert dxf.status_code == 200 and dxf.json()["download"].endswith(".dxf")
        bad = c.get("/sites", params={"category": "canteen", "k": 2, "format": "dxf", "crs": "wgs84"})
        assert bad.status_code == 422 and "metres" in bad.json()["detail"]
