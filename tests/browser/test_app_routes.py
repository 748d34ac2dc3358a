"""The workbench's routes without a browser: the page and its vendored files (nothing loaded from
outside), and the read-only endpoints it adds (``/app/config``, ``/app/communities``, ``/app/context``)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from browser_tools import service_app
from fastapi.testclient import TestClient

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


@pytest.fixture(scope="module")
def client(browser_plan, tmp_path_factory):
    with TestClient(service_app(browser_plan, tmp_path_factory.mktemp("app_routes"))) as c:
        yield c


def test_page_and_every_module_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/app/[^"]+)"', page.text)
    assert "/app/static/main.js" in assets and "/app/leaflet/leaflet.js" in assets
    for js in STATIC.glob("*.js"):  # every module an import names is there
        for name in re.findall(r'from "\./([\w.-]+)"', js.read_text(encoding="utf-8")):
            assets.append(f"/app/static/{name}")
    for url in set(assets):
        r = client.get(url)
        assert r.status_code == 200, url
    assert client.get("/app/static/main.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/app/leaflet/images/marker-icon.png").status_code == 200


def test_nothing_is_loaded_from_outside():
    """No URL beyond the service in the page or its scripts and styles (XML namespaces name, not load)."""
    for f in STATIC.iterdir():
        text = f.read_text(encoding="utf-8")
        urls = re.findall(r"https?://[^\s\"'`)]+", text)
        assert [u for u in urls if u != "http://www.w3.org/2000/svg"] == [], f.name


@pytest.mark.parametrize(
    "path",
    [
        "/app/static/..%2F..%2Fpyproject.toml",
        "/app/static/nope.js",
        "/app/static/app.py",
        "/app/leaflet/x.js",
    ],
)
def test_files_stay_inside_their_folders(client, path):
    assert client.get(path).status_code in (404, 422)


def test_config(client):
    cfg = client.get("/app/config").json()
    assert cfg["region"]["key"] == "chengdu-central" and len(cfg["region"]["bbox"]) == 4
    assert "金牛区" in cfg["districts"] and "成华区" in cfg["districts"]
    assert any("OpenStreetMap contributors" in s for s in cfg["sources"])
    assert any("census" in s for s in cfg["sources"])  # the resident ESTIMATE spreads the census
    assert cfg["sample_facilities"] > 0 and "SAMPLE" in cfg["sample_note"]
    assert cfg["write_needs_token"] is False
    assert cfg["weight_kind"] == "area"


def test_communities_carry_resident_numbers(client):
    body = client.get("/app/communities").json()
    listed = client.get("/communities", params={"limit": 1000}).json()
    assert body["total"] == listed["total"] == len(body["items"])
    assert [c["community_id"] for c in body["items"]] == [c["community_id"] for c in listed["items"]]
    first = body["items"][0]
    assert first["district"] and first["area_m2"] > 0
    assert first["residents"] is None and first["residents_estimate"] > 0  # area-weighted region: ESTIMATE


def test_context_is_an_offline_base_map(client):
    r = client.get("/app/context", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    kinds = {f["properties"]["kind"] for f in fc["features"]}
    assert kinds == {"street", "road", "district", "district_label"}
    roads = {f["properties"]["name"] for f in fc["features"] if f["properties"]["kind"] == "road"}
    assert "人民北路" in roads  # street names on the offline base
    zipped = client.get("/app/context", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert json.loads(zipped.content) == fc  # the client undoes the gzip
    assert len(gzip.compress(r.content)) < len(r.content)
