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
