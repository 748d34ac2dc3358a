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


def test_a_distance_service_says_so(chengdu_osm, tmp_path) -> None:
    with TestClient(create_app(Settings(state_dir=tmp_path / "service", measure="distance"))) as c:
        health = c.get("/healthz").json()
        assert health["measure"] == "distance"
        cats = {r["key"]: r for r in c.get("/categories").json()}
        assert cats["park"]["thresholds_m"] == {"urban": 500.0, "industrial": 500.0}
        assert cats["park"]["thresholds_min"]["urban"] == 10.0
        page = c.get("/gaps", params={"category": "kindergarten", "limit": 5}).json()
        assert page["items"] and all(g["measure"] == "distance" for g in page["items"])
        assert all(g["threshold_m"] == 300.0 for g in page["items"])


def test_a_time_service_says_so(client) -> None:
    assert client.get("/healthz").json()["measure"] == "time"
    page = client.get("/gaps", params={"category": "park", "limit": 3}).json()
    assert all(g["measure"] == "time" and g["threshold_min"] == 10 for g in page["items"])
