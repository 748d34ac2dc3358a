"""Values a careless client sends: a control character in a name does not break the workbooks of its
category; booleans and numeric strings are not coordinates or areas; an unreadable variable is a
one-line settings error."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from api.errors import SettingsError
from api.settings import Settings
from conftest import service


def test_a_control_character_in_a_name_keeps_the_workbooks_working(base_plan, tmp_path):
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        body = {"category": "canteen", "lon": 104.081, "lat": 30.691, "name": "食堂\u001b东"}
        added = c.post("/facilities", json=body)
        assert added.status_code == 201 and added.json()["facility"]["name"] == "食堂\u001b东"  # JSON as sent
        for path in ("/gaps", "/coverage"):
            r = c.get(path, params={"category": "canteen", "format": "xlsx", "limit": 1000})
            assert r.status_code == 200, r.text
            wb = load_workbook(io.BytesIO(r.content))
            cells = {
                str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
            }
            assert not any("\u001b" in v for v in cells)
        fac = c.get("/facilities", params={"source": "user"}).json()["items"]
        assert [f["name"] for f in fac] == ["食堂\u001b东"]


@pytest.mark.parametrize(
    "change",
    [{"lon": True}, {"lat": "30.69"}, {"floor_area_m2": True}, {"floor_area_m2": "120"}],
)
def test_booleans_and_strings_are_not_numbers(base_plan, tmp_path, change):
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        body = {"category": "canteen", "lon": 104.081, "lat": 30.691, **change}
        r = c.post("/facilities", json=body)
        assert r.status_code == 422 and "detail" in r.json()
        assert c.get("/facilities", params={"source": "user"}).json()["total"] == 0
        ok = c.post(
            "/facilities", json={"category": "canteen", "lon": 104.081, "lat": 30.691, "floor_area_m2": 120}
        )
        assert ok.status_code == 201  # a JSON integer is a number


def test_an_unreadable_variable_is_one_line(monkeypatch):
    monkeypatch.setenv("CIRCLES_FACILITIES", "[not json")
    with pytest.raises(SettingsError) as e:
        Settings()
    assert str(e.value).startswith("CIRCLES_FACILITIES cannot be read") and "\n" not in str(e.value)


def test_a_download_without_write_access_is_refused_before_any_work(base_plan, tmp_path, monkeypatch):
    """``/sites?format=…&scenario=…`` without a token: a 401 before the scenario's plan is built."""
    import api.scenarios as scenarios

    token = "a-long-enough-token-123"
    with service(Settings(state_dir=tmp_path / "s", write_token=token), base_plan) as c:
        auth = {"Authorization": f"Bearer {token}"}
        sid = c.post("/scenarios", json={"name": "新食堂"}, headers=auth).json()["id"]
        built = []
        real = scenarios._scenario_plan

        def counted(*args, **kw):
            built.append(1)
            return real(*args, **kw)

        monkeypatch.setattr(scenarios, "_scenario_plan", counted)
        params = {"category": "canteen", "k": 1, "format": "geojson", "scenario": sid}
        refused = c.get("/sites", params=params)
        assert refused.status_code == 401 and "detail" in refused.json()
        assert built == []
        assert (
            c.get(
                "/sites", params={**params, "format": "gpkg"}, headers={"Authorization": "Bearer x"}
            ).status_code
            == 403
        )
        assert built == []
