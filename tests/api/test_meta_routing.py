"""/healthz, /categories, /isochrones."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from api.schemas import Category, Health


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    h = Health.model_validate(r.json())
    assert h.region == "chengdu-central" and h.communities > 100 and "OpenStreetMap" in h.attribution


def test_categories(client):
    r = client.get("/categories")
    cats = [Category.model_validate(c) for c in r.json()]
    keys = [c.key for c in cats]
    assert {"party_service_station", "party_service_centre", "canteen", "labourer_harbour"} <= set(keys)
    assert next(c for c in cats if c.key == "party_service_centre").level_min == 10


def test_isochrones_match_the_cli_shape(client):
    r = client.get("/isochrones", params={"lon": 104.0657, "lat": 30.6598, "minutes": "5,10"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert [f["properties"]["minutes"] for f in fc["features"]] == [10, 5]
    big, small = (shape(f["geometry"]) for f in fc["features"])
    assert small.difference(big).area < 1e-5 * small.area and big.area > small.area  # 1e-7° rounding


@pytest.mark.parametrize(
    "params,status,needle",
    [
        ({"lon": 104.0657, "lat": 30.0}, 422, "outside region"),
        ({"lon": 104.0657, "lat": 30.6598, "profile": "car"}, 422, "unknown profile"),
        ({"lon": 104.0657, "lat": 30.6598, "minutes": "0"}, 422, "minutes"),
        ({"lon": 999, "lat": 30.6598}, 422, "lon"),
        ({"lat": 30.6598}, 422, "lon"),
    ],
)
def test_isochrone_errors(client, params, status, needle):
    r = client.get("/isochrones", params=params)
    assert r.status_code == status
    assert needle in str(r.json()["detail"])


def test_map_page(client):
    r = client.get("/maps/chengdu-central.html", params={"category": "canteen"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "© OpenStreetMap contributors" in r.text and "leaflet" in r.text.lower()
    assert "<script src=" not in r.text  # works offline: nothing loaded from a CDN
    assert client.get("/maps/atlantis.html").status_code == 404
    assert client.get("/maps/chengdu-central.html", params={"category": "teahouse"}).status_code == 422
    assert client.get("/maps/chengdu-central.html", params={"minutes": 7}).status_code == 422


def test_sites_and_downloads(client):
    r = client.get("/sites", params={"category": "canteen", "k": 3, "format": "gpkg"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["download"].startswith("/exports/") and len(body["sites"]) <= 3
    f = client.get(body["download"])
    assert f.status_code == 200 and f.content[:16] == b"SQLite format 3\x00"
    for bad in ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "nope.gpkg", "a%20b.gpkg"]:
        assert client.get(f"/exports/{bad}").status_code in (404, 422)
    assert client.get("/sites", params={"category": "teahouse"}).status_code == 422


def test_docs_work_offline(client):
    """/docs and /redoc load their scripts from the service itself, not from a CDN."""
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = client.get(page)
        assert r.status_code == 200 and script in r.text
        assert "cdn.jsdelivr" not in r.text and "unpkg.com" not in r.text and "googleapis" not in r.text
        src = "/docs-assets/" if page == "/redoc" else "/static-offline-docs/"
        assert f'src="{src}{script}"' in r.text
        js = client.get(f"{src}{script}")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert b"cdn.redoc.ly" not in js.content  # ReDoc's sidebar logo comes from the service too
