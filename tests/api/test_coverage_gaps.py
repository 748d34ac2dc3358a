"""/coverage, /gaps, /communities."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from shapely.geometry import shape

from api import create_app
from api.schemas import CommunityDetail, CommunityPage, GapPage


def test_gaps_sorted_paginated_with_total(client):
    r = client.get("/gaps", params={"category": "canteen", "limit": 5})
    assert r.status_code == 200
    page = GapPage.model_validate(r.json())
    assert page.total > 5 and len(page.items) == 5
    ranks = [g.severity_rank for g in page.items]
    assert ranks == sorted(ranks)
    assert all(g.category == "canteen" for g in page.items)
    assert "AREA" in page.weighting and all(g.uncovered_residents is None for g in page.items)
    nxt = GapPage.model_validate(
        client.get("/gaps", params={"category": "canteen", "limit": 5, "offset": 5}).json()
    )
    assert nxt.total == page.total and nxt.items[0].severity_rank > ranks[-1]


def test_gaps_filters(client):
    all_ = GapPage.model_validate(client.get("/gaps", params={"limit": 1000}).json())
    lv = GapPage.model_validate(client.get("/gaps", params={"level": 5, "limit": 1000}).json())
    assert 0 < lv.total < all_.total and all(g.level_min == 5 for g in lv.items)
    d = all_.items[0].model_dump()["district"]
    dist = GapPage.model_validate(client.get("/gaps", params={"district": d, "limit": 1000}).json())
    assert dist.total > 0 and all(g.model_dump()["district"] == d for g in dist.items)
    big = GapPage.model_validate(client.get("/gaps", params={"min_area_m2": 50000, "limit": 1000}).json())
    assert all(g.uncovered_area_m2 >= 50000 for g in big.items) and big.total < all_.total
    r = client.get("/gaps", params={"min_residents": 10})
    assert r.status_code == 422 and "area-weighted" in r.json()["detail"]


def test_gaps_geojson_and_csv(client):
    r = client.get("/gaps", params={"category": "park", "limit": 3, "format": "geojson"})
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert len(fc["features"]) == 3 and fc["total"] >= 3
    assert shape(fc["features"][0]["geometry"]).area > 0
    r = client.get("/gaps", params={"category": "park", "limit": 3, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3 and rows[0]["category"] == "park" and int(r.headers["x-total-count"]) == fc["total"]


def test_unknown_category_is_422(client):
    r = client.get("/gaps", params={"category": "teahouse"})
    assert r.status_code == 422 and "teahouse" in r.json()["detail"]
    assert client.get("/coverage", params={"category": "teahouse"}).status_code == 422


def test_coverage_layer(client):
    r = client.get("/coverage", params={"category": "park", "minutes": 10})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    area = feats[0]
    assert area["properties"]["kind"] == "service_area" and area["properties"]["minutes"] == 10
    comms = [f for f in feats[1:] if f["properties"]["kind"] == "community"]
    shares = [f["properties"]["covered_share"] for f in comms]
    assert all(0 <= s <= 1 for s in shares) and any(s > 0 for s in shares) and any(s == 0 for s in shares)
    # a community fully covered lies (almost) inside the service area polygon
    poly = shape(area["geometry"])
    full = next(f for f in comms if f["properties"]["covered_share"] == 1.0)
    c = shape(full["geometry"])
    assert c.intersection(poly).area > 0.5 * c.area


def test_communities_and_one_community(client):
    page = CommunityPage.model_validate(client.get("/communities", params={"limit": 10}).json())
    assert page.total > 100 and len(page.items) == 10
    cid = max(page.items, key=lambda c: c.n_gaps).community_id
    r = client.get(f"/communities/{cid}")
    assert r.status_code == 200
    det = CommunityDetail.model_validate(r.json())
    assert len(det.categories) >= 12
    assert sum(c.gap for c in det.categories) == det.n_gaps
    for c in det.categories:
        if c.covered_share is not None:
            assert 0 <= c.covered_share <= 1
    assert client.get("/communities/no-such-id").status_code == 404


def test_coverage_layer_shares_match_the_community_table(client):
    feats = client.get("/coverage", params={"category": "park", "minutes": 10}).json()["features"]
    shares = {f["properties"]["community_id"]: f["properties"]["covered_share"] for f in feats[1:]}
    page = CommunityPage.model_validate(client.get("/communities", params={"limit": 20}).json())
    for summary in page.items:
        park = next(
            c
            for c in CommunityDetail.model_validate(
                client.get(f"/communities/{summary.community_id}").json()
            ).categories
            if c.category == "park"
        )
        expected = None if park.share_10 is None else round(park.share_10, 4)
        assert shares[summary.community_id] == expected


def test_limit_is_bounded_by_the_max_page_setting(fresh_settings):
    with TestClient(create_app(fresh_settings.model_copy(update={"max_page": 10}))) as c:
        for path in ("/gaps", "/communities", "/facilities"):
            ok = c.get(path, params={"limit": 10})
            assert ok.status_code == 200 and len(ok.json()["items"]) == 10, path
            r = c.get(path, params={"limit": 11})
            assert r.status_code == 422 and "max_page" in r.json()["detail"], path
        assert c.get("/gaps", params={"limit": 0}).status_code == 422
