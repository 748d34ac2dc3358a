"""The service's measure: ``CIRCLES_MEASURE`` / ``circles serve --measure`` (time or distance), shown in
/healthz, the catalog's distances in /categories, and every gap row saying how it was judged."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.errors import SettingsError
from api.settings import Settings


def test_the_setting_reaches_the_plan(monkeypatch, tmp_path) -> None:
    assert Settings(state_dir=tmp_path).plan_options().measure == "time"
    assert Settings(state_dir=tmp_path, measure="distance").plan_options().measure == "distance"
    monkeypatch.setenv("CIRCLES_MEASURE", "distance")
    settings = Settings(state_dir=tmp_path)
    assert settings.measure == "distance" and settings.environment()["CIRCLES_MEASURE"] == "distance"


def test_a_bad_measure_is_one_line_naming_the_variable(tmp_path) -> None:
    with pytest.raises(SettingsError) as e:
        Settings(state_dir=tmp_path, measure="metres")
    assert "CIRCLES_MEASURE=metres" in str(e.value) and "\n" not in str(e.value)


@pytest.fixture(scope="module")
def distance_client(chengdu_osm, tmp_path_factory):
    """A service on the default region under the distance measure (never edited)."""
    settings = Settings(state_dir=tmp_path_factory.mktemp("distance_service"), measure="distance")
    with TestClient(create_app(settings)) as c:
        yield c


def test_a_distance_service_says_so(distance_client) -> None:
    c = distance_client
    health = c.get("/healthz").json()
    assert health["measure"] == "distance"
    cats = {r["key"]: r for r in c.get("/categories").json()}
    assert cats["park"]["thresholds_m"] == {"urban": 500.0, "industrial": 500.0}
    assert cats["park"]["thresholds_min"]["urban"] == 10.0
    page = c.get("/gaps", params={"category": "kindergarten", "limit": 5}).json()
    assert page["items"] and all(g["measure"] == "distance" for g in page["items"])
    assert all(g["threshold_m"] == 300.0 for g in page["items"])
    assert page["measure"] == "distance" and page["threshold_min"] is None and page["threshold_m"] is None
    config = c.get("/app/config").json()
    assert config["measure"] == "distance"
    assert config["level_walk_m"] == {"5": 300.0, "10": 500.0, "15": 1000.0}


def test_a_time_service_says_so(client) -> None:
    assert client.get("/healthz").json()["measure"] == "time"
    page = client.get("/gaps", params={"category": "park", "limit": 3}).json()
    assert all(g["measure"] == "time" and g["threshold_min"] == 10 for g in page["items"])


# ---------------------------------------------------------------- walk_m on /gaps and /coverage


def _short(client, **params) -> int:
    """How many coverage gaps the gap list has for ``params``."""
    r = client.get("/gaps", params={"kind": "coverage", "limit": 1, **params})
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def test_walk_m_on_gaps_judges_by_network_distance(client) -> None:
    near, far = (
        _short(client, category="kindergarten", walk_m=300),
        _short(client, category="kindergarten", walk_m=1000),
    )
    assert far < near  # fewer communities are short within 1000 m than within 300 m
    page = client.get("/gaps", params={"category": "kindergarten", "walk_m": 300, "limit": 5}).json()
    assert page["measure"] == "distance" and page["threshold_m"] == 300 and page["threshold_min"] is None
    assert page["items"] and all(
        g["measure"] == "distance" and g["threshold_m"] == 300 for g in page["items"]
    )
    assert all(g["threshold_min"] is None for g in page["items"])
    own = client.get("/gaps", params={"category": "kindergarten", "limit": 1}).json()
    assert own["measure"] == "time" and own["threshold_m"] is None


def test_minutes_and_metres_are_different_gap_lists(client) -> None:
    state = client.app.state.service
    by_minutes, by_metres = state.gap_index(10.0), state.gap_index(walk_m=10.0)
    assert by_minutes is not by_metres  # keyed on (minutes, walk_m)
    assert state.gap_index(walk_m=10.0) is by_metres and state.cached_gap_index(walk_m=10.0) is by_metres
    assert len(by_metres.gaps) > len(by_minutes.gaps)  # 10 m reaches far less than 10 minutes


@pytest.mark.parametrize("path", ["/gaps", "/coverage"])
def test_minutes_and_walk_m_together_are_refused(client, path) -> None:
    r = client.get(path, params={"category": "park", "minutes": 10, "walk_m": 500})
    assert r.status_code == 422
    assert "minutes or walk_m, not both" in r.json()["detail"]


def test_walk_m_is_bounded(client) -> None:
    assert client.get("/gaps", params={"category": "park", "walk_m": 5}).status_code == 422
    assert client.get("/coverage", params={"category": "park", "walk_m": 1e6}).status_code == 422


def test_walk_m_on_rollups(client) -> None:
    near = client.get(
        "/gaps", params={"category": "kindergarten", "walk_m": 300, "group_by": "district"}
    ).json()
    far = client.get(
        "/gaps", params={"category": "kindergarten", "walk_m": 1000, "group_by": "district"}
    ).json()
    assert near["measure"] == "distance" and near["walk_m"] == 300 and near["threshold_m"] == 300
    assert near["items"] and all(r["threshold_m"] == 300 for r in near["items"])
    assert sum(r["members_short"] for r in far["items"]) < sum(r["members_short"] for r in near["items"])
    csv = client.get(
        "/gaps", params={"category": "kindergarten", "walk_m": 300, "group_by": "district", "format": "csv"}
    )
    assert csv.status_code == 200 and "threshold_m" in csv.text.splitlines()[0].split(",")
    plain = client.get("/gaps", params={"category": "kindergarten", "group_by": "district", "format": "csv"})
    assert "threshold_m" not in plain.text.splitlines()[0].split(",")  # a time plan's roll-up has no metres


def test_walk_m_on_coverage(client) -> None:
    def areas(walk_m: float) -> tuple[dict, list[dict]]:
        fc = client.get("/coverage", params={"category": "park", "walk_m": walk_m}).json()
        assert fc["measure"] == "distance" and fc["threshold_m"] == walk_m and fc["threshold_min"] is None
        area, *comms = fc["features"]
        assert area["properties"]["walk_m"] == walk_m and "minutes" not in area["properties"]
        assert all(f["properties"]["threshold_m"] == walk_m for f in comms)
        assert all(f["properties"]["measure"] == "distance" for f in comms)
        return area["properties"], [f["properties"] for f in comms]

    (near, near_c), (far, far_c) = areas(300), areas(1000)
    assert far["area_m2"] > 2 * near["area_m2"]
    shares = [(a["covered_share"] or 0.0, b["covered_share"] or 0.0) for a, b in zip(near_c, far_c)]
    assert all(b >= a for a, b in shares) and sum(b for _, b in shares) > sum(a for a, _ in shares)
    minutes = client.get("/coverage", params={"category": "park", "minutes": 10}).json()
    assert minutes["measure"] == "time" and minutes["features"][0]["properties"]["minutes"] == 10
    assert minutes["features"][1]["properties"]["threshold_min"] == 10
    csv = client.get("/coverage", params={"category": "park", "walk_m": 500, "format": "csv"})
    header, first = csv.text.splitlines()[:2]
    assert "threshold_m" in header.split(",") and "distance" in first.split(",")


def test_a_distance_service_defaults_to_the_categorys_metres(distance_client) -> None:
    c = distance_client
    fc = c.get("/coverage", params={"category": "park"}).json()
    area = fc["features"][0]["properties"]
    assert fc["measure"] == "distance" and fc["threshold_m"] == 500.0
    assert area["walk_m"] == 500.0 and area["measure"] == "distance"
    urban = [f["properties"] for f in fc["features"][1:] if f["properties"]["type"] == "urban"]
    assert urban and all(p["measure"] == "distance" and p["threshold_m"] == 500.0 for p in urban)
    rolled = c.get("/gaps", params={"category": "park", "group_by": "district"}).json()
    assert rolled["measure"] == "distance" and rolled["walk_m"] is None
    assert any(r["threshold_m"] == 500.0 for r in rolled["items"])
    # a threshold asked still wins: minutes judge by time under a distance service
    page = c.get("/gaps", params={"category": "park", "minutes": 10, "limit": 3}).json()
    assert page["measure"] == "time" and all(g["measure"] == "time" for g in page["items"])
    cid = c.get("/communities", params={"limit": 1}).json()["items"][0]["community_id"]
    detail = c.get(f"/communities/{cid}").json()
    park = next(r for r in detail["categories"] if r["category"] == "park")
    assert park["measure"] == "distance" and park["threshold_m"] == 500.0


def test_community_detail_says_its_measure(client) -> None:
    cid = client.get("/communities", params={"limit": 1}).json()["items"][0]["community_id"]
    rows = client.get(f"/communities/{cid}").json()["categories"]
    assert rows and all(r["measure"] == "time" and r["threshold_m"] is None for r in rows)
