"""/scenarios: named what-if changes on top of the register, stored durably, never changing it; the
``scenario=`` parameter of /gaps, /coverage and /sites; before/after deltas, comparison and exports."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.schemas import Change, EditPage, FacilityPage, GapPage, Scenario, ScenarioComparison, ScenarioDelta
from api.settings import Settings
from api.store import FacilityStore
from conftest import service

#: a place in 青羊区 where a canteen closes canteen gaps of the default region (WGS84)
NEW_CANTEEN = {"lon": 104.07, "lat": 30.67}
#: a place far from it, near a street (WGS84)
ELSEWHERE = {"lon": 104.12, "lat": 30.72}


def _gaps(c, scenario=None, **params):
    q = {"category": "canteen", "limit": 1000, **params}
    if scenario is not None:
        q["scenario"] = scenario
    r = c.get("/gaps", params=q)
    assert r.status_code == 200, r.text
    page = GapPage.model_validate(r.json())
    return page.total, [(g.community_id, g.covered_share) for g in page.items]


def _facilities(c):
    page = FacilityPage.model_validate(c.get("/facilities", params={"limit": 1000}).json())
    return page.total, sorted((f.facility_id, f.lon, f.lat) for f in page.items)


def _scenario(c, name="新增食堂方案"):
    r = c.post("/scenarios", json={"name": name, "description": "试点"})
    assert r.status_code == 201, r.text
    return Scenario.model_validate(r.json())


def _change(c, sid, **body):
    r = c.post(f"/scenarios/{sid}/facilities", json=body)
    assert r.status_code == 201, r.text
    return Change.model_validate(r.json())


@pytest.fixture
def c(base_plan, tmp_path):
    with service(Settings(state_dir=tmp_path / "service"), base_plan) as client:
        yield client


def test_proposed_canteen_changes_the_scenario_not_the_register(c):
    base_gaps, base_fac = _gaps(c), _facilities(c)
    s = _scenario(c)
    assert s.revision == 0 and s.changes == [] and s.id != "baseline"
    assert _gaps(c, s.id) == base_gaps  # no changes yet: the baseline's numbers
    ch = _change(c, s.id, action="add", category="社区食堂", name="新食堂", **NEW_CANTEEN)
    assert ch.facility_id == f"p{ch.change_id}" and ch.category == "canteen" and ch.action == "add"
    total, rows = _gaps(c, s.id)
    assert total < base_gaps[0]
    assert _gaps(c) == base_gaps  # the baseline is unchanged
    assert _facilities(c) == base_fac  # and so is the register
    got = Scenario.model_validate(c.get(f"/scenarios/{s.id}").json())
    assert got.revision == 1 and [x.change_id for x in got.changes] == [ch.change_id]
    fc = c.get(f"/scenarios/{s.id}/facilities", params={"category": "canteen"})
    assert fc.status_code == 200 and fc.headers["content-type"].startswith("application/geo+json")
    props = {f["properties"]["id"]: f["properties"] for f in fc.json()["features"]}
    assert props[ch.facility_id]["status"] == "proposed" and props[ch.facility_id]["source"] == "proposed"
    assert "OpenStreetMap" in fc.json()["attribution"]
    # coverage follows the scenario too
    cov = c.get("/coverage", params={"category": "canteen", "scenario": s.id}).json()["features"][0]
    cov0 = c.get("/coverage", params={"category": "canteen"}).json()["features"][0]
    assert cov["properties"]["area_m2"] > cov0["properties"]["area_m2"]
    # undo restores the numbers
    r = c.delete(f"/scenarios/{s.id}/facilities/{ch.change_id}")
    assert r.status_code == 200 and r.json() == {"undone": ch.change_id}
    assert _gaps(c, s.id) == base_gaps
    assert Scenario.model_validate(c.get(f"/scenarios/{s.id}").json()).revision == 2
    # every write is in the audit log; the register's revision-based answers are still right
    log = EditPage.model_validate(c.get("/edits", params={"limit": 10}).json())
    assert [e.action for e in log.items][::-1] == ["scenario_create", "scenario_change", "scenario_undo"]
    assert _gaps(c) == base_gaps and _facilities(c) == base_fac


def test_removing_a_baseline_facility_opens_gaps(c):
    res = c.app.state.service.result
    cov = res.coverage[(res.coverage["category"] == "canteen") & (res.coverage["covered_share"] > 0.9)]
    busiest = str(cov["nearest_facility_id"].value_counts().index[0])  # nearest to covered communities
    base_total, _ = _gaps(c)
    s = _scenario(c)
    ch = _change(c, s.id, action="remove", facility_id=busiest)
    assert ch.category == "canteen" and ch.lon is None
    assert _gaps(c, s.id)[0] > base_total
    assert _gaps(c)[0] == base_total
    feats = c.get(f"/scenarios/{s.id}/facilities").json()["features"]
    assert next(f for f in feats if f["properties"]["id"] == busiest)["properties"]["status"] == "removed"
    assert busiest in {f[0] for f in _facilities(c)[1]}  # still in the register
    # a removed facility cannot be moved or removed again
    assert (
        c.post(f"/scenarios/{s.id}/facilities", json={"action": "remove", "facility_id": busiest}).status_code
        == 404
    )


def test_move_proposed_and_baseline_facilities(c):
    base = _gaps(c)
    s = _scenario(c)
    add = _change(c, s.id, action="add", category="canteen", **NEW_CANTEEN)
    near = _gaps(c, s.id)
    mv = _change(c, s.id, action="move", facility_id=add.facility_id, **ELSEWHERE)
    assert mv.category == "canteen" and (mv.lon, mv.lat) == (ELSEWHERE["lon"], ELSEWHERE["lat"])
    moved = _gaps(c, s.id)
    assert moved != near
    feats = c.get(f"/scenarios/{s.id}/facilities", params={"category": "canteen"}).json()["features"]
    p = next(f for f in feats if f["properties"]["id"] == add.facility_id)
    assert p["geometry"]["coordinates"] == [ELSEWHERE["lon"], ELSEWHERE["lat"]]
    assert p["properties"]["status"] == "proposed"
    # move it back: the numbers of the first place
    _change(c, s.id, action="move", facility_id=add.facility_id, **NEW_CANTEEN)
    assert _gaps(c, s.id) == near
    # a baseline facility moved: status moved, where it was kept
    fid = c.get("/facilities", params={"category": "canteen", "limit": 1}).json()["items"][0]["facility_id"]
    _change(c, s.id, action="move", facility_id=fid, **ELSEWHERE)
    feats = c.get(f"/scenarios/{s.id}/facilities", params={"category": "canteen"}).json()["features"]
    f = next(f for f in feats if f["properties"]["id"] == fid)["properties"]
    assert f["status"] == "moved" and "from_lon" in f and "from_lat" in f
    assert _gaps(c) == base
    # undoing the add while later changes move it: 409, nothing changed
    r = c.delete(f"/scenarios/{s.id}/facilities/{add.change_id}")
    assert r.status_code == 409 and r.json()["change_ids"]
    assert c.delete(f"/scenarios/{s.id}/facilities/999999").status_code == 404


def test_scenarios_survive_a_restart(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "service")
    with service(settings, base_plan) as a:
        s = _scenario(a)
        ch = _change(a, s.id, action="add", category="canteen", name="新食堂", **NEW_CANTEEN)
        before = _gaps(a, s.id)
        listed = a.get("/scenarios").json()
    with service(settings, base_plan) as b:
        assert b.get("/scenarios").json() == listed
        got = Scenario.model_validate(b.get(f"/scenarios/{s.id}").json())
        assert [(x.change_id, x.name) for x in got.changes] == [(ch.change_id, "新食堂")]
        assert _gaps(b, s.id) == before


def test_two_instances_on_one_store_see_the_same_scenario(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "shared")
    with service(settings, base_plan) as a, service(settings, base_plan) as b:
        s = _scenario(a)
        assert Scenario.model_validate(b.get(f"/scenarios/{s.id}").json()) == s
        assert _gaps(b, s.id) == _gaps(a, s.id) == _gaps(a)
        _change(b, s.id, action="add", category="canteen", **NEW_CANTEEN)  # made on B, seen on A
        assert _gaps(a, s.id) == _gaps(b, s.id) != _gaps(a)
        assert a.get("/healthz").json()["revision"] == b.get("/healthz").json()["revision"] == 2
        # the name is unique across the instances
        assert b.post("/scenarios", json={"name": s.name}).status_code == 409
        assert a.delete(f"/scenarios/{s.id}").json() == {"deleted": s.id}
        assert b.get(f"/scenarios/{s.id}").status_code == 404
        assert b.get("/gaps", params={"scenario": s.id}).status_code == 404


def test_delta_is_the_difference_of_the_two_gap_lists(c):
    s = _scenario(c)
    _change(c, s.id, action="add", category="canteen", **NEW_CANTEEN)
    for params in ({}, {"minutes": 10}, {"district": "青羊区"}):
        r = c.get(f"/scenarios/{s.id}/delta", params={"category": "canteen", **params})
        assert r.status_code == 200, r.text
        d = ScenarioDelta.model_validate(r.json())
        base, scen = _gaps(c, kind="coverage", **params)[0], _gaps(c, s.id, kind="coverage", **params)[0]
        assert (d.baseline.communities_short, d.scenario_values.communities_short) == (base, scen)
        assert d.delta.gaps_closed == base - scen > 0
        assert d.delta.residents_newly_covered == pytest.approx(
            d.scenario_values.residents_covered - d.baseline.residents_covered, abs=0.2
        )
        assert d.delta.residents_newly_covered > 0
        assert sum(x.baseline_short - x.scenario_short for x in d.by_district) == d.delta.gaps_closed
        for row in d.by_district:
            assert (
                row.scenario_short
                == _gaps(c, s.id, kind="coverage", **{**params, "district": row.district})[0]
            )
    cmp = c.get("/scenarios/compare", params={"a": s.id, "b": "baseline", "category": "canteen"})
    assert cmp.status_code == 200, cmp.text
    both = ScenarioComparison.model_validate(cmp.json())
    assert both.a.delta.gaps_closed > 0 and both.b.delta.gaps_closed == 0 and both.b.scenario == "baseline"


def test_exports_open_with_the_right_rows(c, tmp_path):
    import openpyxl
    import pyogrio

    s = _scenario(c)
    add = _change(c, s.id, action="add", category="canteen", name="新食堂", **NEW_CANTEEN)
    fid = c.get("/facilities", params={"category": "park", "limit": 1}).json()["items"][0]["facility_id"]
    _change(c, s.id, action="remove", facility_id=fid)
    n_fac = _facilities(c)[0]
    r = c.get(f"/scenarios/{s.id}/export", params={"format": "gpkg"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "s.gpkg"
    path.write_bytes(r.content)
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert {"facilities", "gaps", "changes", "export_info"} <= set(layers)
    fac = pyogrio.read_dataframe(path, layer="facilities")
    assert len(fac) == n_fac + 1
    status = dict(zip(fac["facility_id"], fac["status"]))
    assert status[add.facility_id] == "proposed" and status[fid] == "removed"
    assert (
        set(fac["source"]) >= {"osm", "proposed"} and (fac["attribution"].str.contains("OpenStreetMap")).all()
    )
    gaps = pyogrio.read_dataframe(path, layer="gaps")
    total = GapPage.model_validate(c.get("/gaps", params={"scenario": s.id, "limit": 1}).json()).total
    assert len(gaps) == total and gaps.geometry.notna().all()
    assert len(pyogrio.read_dataframe(path, layer="changes")) == 2
    info = pyogrio.read_dataframe(path, layer="export_info")
    facts = dict(zip(info["key"], info["value"]))
    assert "OpenStreetMap" in facts["attribution"] and "SAMPLE" in facts["sample_data"]
    r = c.get(f"/scenarios/{s.id}/export", params={"format": "xlsx", "category": "canteen"})
    assert r.status_code == 200, r.text
    xlsx = tmp_path / "s.xlsx"
    xlsx.write_bytes(r.content)
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    gap_sheet = next(n for n in wb.sheetnames if "gaps" in n)
    assert wb[gap_sheet].max_row - 1 == _gaps(c, s.id)[0]
    assert wb[next(n for n in wb.sheetnames if "changes" in n)].max_row - 1 == 2
    readme = "\n".join(str(row[0].value) for row in wb[wb.sheetnames[0]].iter_rows() if row[0].value)
    assert "OpenStreetMap" in readme and s.name in readme and "SAMPLE" in readme


def test_bad_requests(c):
    s = _scenario(c)
    post = f"/scenarios/{s.id}/facilities"
    assert c.get("/scenarios/nope").status_code == 404
    assert "detail" in c.get("/scenarios/nope").json()
    assert c.get("/gaps", params={"scenario": "nope"}).status_code == 404
    assert c.get("/scenarios/nope/delta", params={"category": "canteen"}).status_code == 404
    assert (
        c.post("/scenarios/nope/facilities", json={"action": "remove", "facility_id": "x"}).status_code == 404
    )
    assert c.post(post, json={"action": "remove", "facility_id": "osm:nope"}).status_code == 404
    assert c.post(post, json={"action": "move", "facility_id": "p999999", **NEW_CANTEEN}).status_code == 404
    assert (
        c.post(post, json={"action": "add", "category": "canteen", "lon": 110.0, "lat": 30.67}).status_code
        == 422
    )
    assert c.post(post, json={"action": "add", "category": "nope", **NEW_CANTEEN}).status_code == 422
    assert c.post(post, json={"action": "fly", "facility_id": "x"}).status_code == 422
    assert c.post("/scenarios", json={"name": s.name}).status_code == 409
    assert c.post("/scenarios", json={"name": ""}).status_code == 422
    assert c.post("/scenarios", json={"name": "x" * 81}).status_code == 422
    assert Scenario.model_validate(c.get(f"/scenarios/{s.id}").json()).revision == 0  # nothing written


def test_writes_need_access(base_plan, tmp_path):
    from api.state import ServiceState

    settings = Settings(state_dir=tmp_path / "closed", write_token="a-long-enough-secret-token-123")
    with TestClient(create_app(state=ServiceState(settings, base=base_plan))) as c:
        assert c.post("/scenarios", json={"name": "x"}).status_code == 401
        auth = {"Authorization": "Bearer a-long-enough-secret-token-123"}
        r = c.post("/scenarios", json={"name": "x"}, headers=auth)
        assert r.status_code == 201
        sid = r.json()["id"]
        body = {"action": "add", "category": "canteen", **NEW_CANTEEN}
        assert c.post(f"/scenarios/{sid}/facilities", json=body).status_code == 401
        assert (
            c.post(
                f"/scenarios/{sid}/facilities", json=body, headers={"Authorization": "Bearer wrong"}
            ).status_code
            == 403
        )
        assert c.delete(f"/scenarios/{sid}").status_code == 401
        assert c.get(f"/scenarios/{sid}").status_code == 200  # reads are open
    # without tokens, writes only from loopback
    with service(Settings(state_dir=tmp_path / "open"), base_plan, client=("192.0.2.7", 5000)) as remote:
        assert remote.post("/scenarios", json={"name": "x"}).status_code == 403


def test_an_existing_store_gets_the_scenario_tables(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "old")
    FacilityStore(settings.db_path).close()
    with sqlite3.connect(settings.db_path) as con:  # a database of an earlier version
        con.execute("DROP TABLE scenario_change")
        con.execute("DROP TABLE scenario")
    con.close()
    with service(settings, base_plan) as c:
        s = _scenario(c)
        _change(c, s.id, action="add", category="canteen", **NEW_CANTEEN)
        assert _gaps(c, s.id) != _gaps(c)


def _edits(c):
    return EditPage.model_validate(c.get("/edits", params={"limit": 1}).json()).total


def test_scenario_writes_with_an_idempotency_key_are_answered_once(c):
    """A retry with the same ``Idempotency-Key`` answers the first answer (``Idempotent-Replayed``)
    and changes nothing, also where repeating the request itself would fail (a taken name, a deleted
    scenario or undone change); the same key with another request is a 422 that changes nothing."""

    def twice(method, path, key, **kw):
        first = c.request(method, path, headers={"Idempotency-Key": key}, **kw)
        n = _edits(c)
        again = c.request(method, path, headers={"Idempotency-Key": key}, **kw)
        assert "Idempotent-Replayed" not in first.headers, first.text
        assert again.headers["Idempotent-Replayed"] == "true", again.text
        assert (again.status_code, again.json()) == (first.status_code, first.json())
        assert _edits(c) == n  # the retry wrote nothing
        return first

    body = {"name": "重试方案", "description": "retry"}
    created = twice("POST", "/scenarios", "create-1", json=body)
    assert created.status_code == 201
    sid = Scenario.model_validate(created.json()).id
    assert len(c.get("/scenarios").json()["items"]) == 1
    add = {"action": "add", "category": "canteen", **NEW_CANTEEN}
    ch = twice("POST", f"/scenarios/{sid}/facilities", "change-1", json=add)
    assert ch.status_code == 201
    change_id = Change.model_validate(ch.json()).change_id
    got = Scenario.model_validate(c.get(f"/scenarios/{sid}").json())
    assert [x.change_id for x in got.changes] == [change_id] and got.revision == 1
    undone = twice("DELETE", f"/scenarios/{sid}/facilities/{change_id}", "undo-1")
    assert undone.json() == {"undone": change_id}
    assert c.delete(f"/scenarios/{sid}/facilities/{change_id}").status_code == 404  # without the key
    assert Scenario.model_validate(c.get(f"/scenarios/{sid}").json()).revision == 2
    # the same key with another request: 422, nothing written
    n = _edits(c)
    for method, path, kw in (
        ("POST", "/scenarios", {"json": {**body, "name": "其他"}}),
        ("POST", f"/scenarios/{sid}/facilities", {"json": {**add, "lon": 104.071}}),
        ("DELETE", f"/scenarios/{sid}", {}),
    ):
        r = c.request(method, path, headers={"Idempotency-Key": "change-1"}, **kw)
        assert r.status_code == 422 and "different request" in r.json()["detail"], (path, r.text)
    assert _edits(c) == n and len(c.get("/scenarios").json()["items"]) == 1
    deleted = twice("DELETE", f"/scenarios/{sid}", "delete-1")
    assert deleted.json() == {"deleted": sid}
    assert c.get(f"/scenarios/{sid}").status_code == 404
    assert c.delete(f"/scenarios/{sid}").status_code == 404  # without the key
    # a failed first request keeps no answer: the key is free for the corrected request
    bad = c.post("/scenarios", json={"name": " "}, headers={"Idempotency-Key": "fix-me"})
    assert bad.status_code == 422
    fixed = c.post("/scenarios", json={"name": "改正"}, headers={"Idempotency-Key": "fix-me"})
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert c.post("/scenarios", json={"name": " "}, headers={"Idempotency-Key": "bad key"}).status_code == 422


def test_a_scenario_retry_on_another_worker_is_answered_once(base_plan, tmp_path):
    """The kept answer is in the store: a retry sent to another worker process gets it too."""
    settings = Settings(state_dir=tmp_path / "shared")
    with service(settings, base_plan) as a, service(settings, base_plan) as b:
        key = {"Idempotency-Key": "two-workers"}
        first = a.post("/scenarios", json={"name": "共享"}, headers=key)
        again = b.post("/scenarios", json={"name": "共享"}, headers=key)
        assert first.status_code == 201 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert len(b.get("/scenarios").json()["items"]) == 1


def test_gap_workbooks_under_a_scenario_name_it(c):
    """The README sheet of ``/gaps?format=xlsx&scenario=…`` (and of its roll-ups) names the scenario
    (name, id, revision) as the scenario export does; the baseline's names none."""
    import io

    import openpyxl

    def readme(**params):
        r = c.get("/gaps", params={"category": "canteen", "format": "xlsx", **params})
        assert r.status_code == 200, r.text
        wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        return "\n".join(str(row[0].value) for row in wb[wb.sheetnames[0]].iter_rows() if row[0].value)

    s = _scenario(c, name="方案甲")
    _change(c, s.id, action="add", category="canteen", **NEW_CANTEEN)
    line = f"scenario 方案: 方案甲 ({s.id}, revision 1); 1 changes"
    assert line in readme(scenario=s.id)
    assert line in readme(scenario=s.id, group_by="district")
    export = c.get(f"/scenarios/{s.id}/export", params={"format": "xlsx", "category": "canteen"})
    wb = openpyxl.load_workbook(io.BytesIO(export.content), read_only=True)
    assert line in "\n".join(str(row[0].value) for row in wb[wb.sheetnames[0]].iter_rows() if row[0].value)
    assert "scenario" not in readme() and s.id not in readme(group_by="district")


def test_control_characters_in_names_do_not_break_the_workbooks(c):
    """A name sent as ``"\\u0000"`` is valid JSON and kept as sent, but an Excel cell cannot hold it:
    the scenario workbook and the README of the /gaps workbook under the scenario leave such
    characters out (they were a 500)."""
    import io

    import openpyxl

    def workbook_text(path, **params):
        r = c.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        return "\n".join(str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v)

    s = _scenario(c, name="方案\x00乙")
    _change(c, s.id, action="add", category="canteen", name="新\x0b食堂\x1b[31m", **NEW_CANTEEN)
    assert c.get(f"/scenarios/{s.id}").json()["name"] == "方案\x00乙"  # the JSON answers keep it
    text = workbook_text(f"/scenarios/{s.id}/export", format="xlsx")
    assert "方案乙" in text and "新食堂[31m" in text and not {"\x00", "\x0b", "\x1b"} & set(text)
    t = _scenario(c, name="方案\x07丙")
    _change(c, t.id, action="add", category="canteen", **NEW_CANTEEN)
    text = workbook_text("/gaps", format="xlsx", category="canteen", scenario=t.id)
    assert f"方案丙 ({t.id}" in text and "\x07" not in text
