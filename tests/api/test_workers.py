"""One store, many workers: two service instances on one state folder never drift. Every edit bumps
the store revision in its transaction; every request catches up with edits of the other instance
first (facility edits replayed per category, a new community layer planned afresh)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from api_files import box, feature_collection

from api.schemas import EditPage, FacilityPage, GapPage
from api.settings import Settings
from api.store import FacilityStore
from conftest import service


def _users(c) -> list[str]:
    page = FacilityPage.model_validate(c.get("/facilities", params={"source": "user", "limit": 1000}).json())
    return sorted(f.facility_id for f in page.items)


def _canteen_gaps(c) -> tuple[int, list[tuple[str, float | None]]]:
    page = GapPage.model_validate(c.get("/gaps", params={"category": "canteen", "limit": 1000}).json())
    return page.total, [(g.community_id, g.covered_share) for g in page.items]


def _same(a, b):
    assert _users(a) == _users(b)
    assert _canteen_gaps(a) == _canteen_gaps(b)
    ha, hb = a.get("/healthz").json(), b.get("/healthz").json()
    assert ha == hb, (ha, hb)
    return ha


def test_two_instances_on_one_store_agree(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "shared")
    with service(settings, base_plan) as a, service(settings, base_plan) as b:
        before = _same(a, b)
        assert before["revision"] == 0
        # A adds; B sees it before answering
        r = a.post("/facilities", json={"category": "canteen", "lon": 104.07, "lat": 30.67, "name": "甲"})
        assert r.status_code == 201
        fid = r.json()["facility"]["facility_id"]
        assert _users(b) == [fid]
        h = _same(a, b)
        assert h["revision"] == 1 and h["facilities"] == before["facilities"] + 1
        # B deletes what A added (the 404 of the issue); A sees it gone
        assert b.delete(f"/facilities/{fid}").status_code == 200
        assert _users(a) == []
        # interleaved edits on both, including hiding a base facility and restoring it on the other
        ids = []
        for i, c in enumerate((a, b, a, b)):
            r = c.post("/facilities", json={"category": "canteen", "lon": 104.06 + 0.01 * i, "lat": 30.68})
            assert r.status_code == 201
            ids.append(r.json()["facility"]["facility_id"])
        park = a.get("/facilities", params={"category": "park", "limit": 1}).json()["items"][0]["facility_id"]
        assert a.delete(f"/facilities/{park}").status_code == 200
        assert park in {f["facility_id"] for f in b.get("/facilities/deleted").json()["items"]}
        assert b.post(f"/facilities/{park}/restore").status_code == 200
        h = _same(a, b)
        assert h["revision"] == 8 and h["facilities"] == before["facilities"] + 4
        assert _users(a) == sorted(ids)
        # the tables are the same, row for row (the same order: the same nearest-facility ties)
        fa = a.app.state.service.result.data.facilities
        fb = b.app.state.service.result.data.facilities
        assert fa["facility_id"].tolist() == fb["facility_id"].tolist()
        log = EditPage.model_validate(b.get("/edits", params={"limit": 100}).json())
        assert [e.action for e in log.items][::-1] == ["add", "delete"] + ["add"] * 4 + ["delete", "restore"]
        assert [e.revision for e in log.items] == list(range(8, 0, -1))
        assert log.items[-1].before is None and log.items[-1].after["name"] == "甲"  # type: ignore[index]
        assert log.items[-2].before["facility_id"] == fid and log.items[-2].after is None  # type: ignore[index]
    # after restarts both list the same user facilities
    with service(settings, base_plan) as a2, service(settings, base_plan) as b2:
        assert _users(a2) == sorted(ids) and _same(a2, b2)["revision"] == 8


def test_a_community_layer_applied_on_one_instance_is_planned_on_the_other(fresh_user_settings):
    from fastapi.testclient import TestClient

    from api import create_app

    layer = feature_collection(
        ({"id": f"n{i}", "name": f"新苑{i}", "人口": 1000 + i}, box(104.07 + 0.003 * i, 30.68))
        for i in range(3)
    )
    with TestClient(create_app(fresh_user_settings)) as a, TestClient(create_app(fresh_user_settings)) as b:
        r = a.post(
            "/imports/communities",
            files={"file": ("新社区.geojson", layer.encode(), "application/geo+json")},
        )
        assert r.status_code == 201, r.text
        assert a.post(f"/imports/{r.json()['import_id']}/apply").status_code == 200
        ids = {x["community_id"] for x in b.get("/communities").json()["items"]}
        assert ids == {"n0", "n1", "n2"}
        assert _same(a, b)["communities"] == 3


def test_an_import_applied_on_one_instance_counts_on_the_other(fresh_user_settings):
    from api_files import gcj02_register
    from fastapi.testclient import TestClient

    from api import create_app

    register = gcj02_register(
        [
            ("望江社区食堂", "社区食堂", 104.0790, 30.6870, "k1"),
            ("新华助餐点", "助餐点", 104.0805, 30.6895, "k2"),
        ],
        header="名称,类别,经度,纬度,编号",
    )
    with TestClient(create_app(fresh_user_settings)) as a, TestClient(create_app(fresh_user_settings)) as b:
        r = b.post(
            "/imports/facilities",
            files={"file": ("r.csv", register.encode(), "text/csv")},
            data={"crs": "gcj02"},
        )
        assert r.status_code == 201, r.text
        assert a.post(f"/imports/{r.json()['import_id']}/apply").status_code == 200
        assert {"k1", "k2"} <= set(_users(b))
        assert _same(a, b)["revision"] == 1
        assert b.delete("/facilities/k1").status_code == 200  # an imported row, deleted on the other
        assert "k1" not in _users(a)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(state_dir, port):
    env = {**os.environ, "CIRCLES_STATE_DIR": str(state_dir), "CIRCLES_WORKER_THREADS": "2"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(url: str, proc, timeout_s: float = 90) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"service exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail("service did not start")


def test_two_uvicorn_processes_on_one_store(chengdu_osm, tmp_path):
    """Two real server processes on one state folder: an edit on either is seen by both, a delete of
    the other's facility works, the gap totals agree; a write survives a kill -9 of the writer."""
    ports = [_free_port(), _free_port()]
    procs = [_start(tmp_path, p) for p in ports]
    try:
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        for url, proc in zip((a, b), procs):
            _wait(url, proc)
        added = []
        bodies = [
            {"category": "canteen", "lon": lon, "lat": 30.68} for lon in (104.06, 104.07, 104.08, 104.09)
        ]
        for i, (url, body) in enumerate(zip((a, b, a, b), bodies)):
            r = httpx.post(url + "/facilities", json=body, headers={"Idempotency-Key": f"k{i}"}, timeout=60)
            assert r.status_code == 201, r.text
            added.append(r.json()["facility"]["facility_id"])
        assert httpx.delete(f"{b}/facilities/{added[0]}", timeout=60).status_code == 200
        states = []
        for url in (a, b):
            users = httpx.get(url + "/facilities", params={"source": "user"}, timeout=60).json()["items"]
            gaps = httpx.get(url + "/gaps", params={"category": "canteen"}, timeout=60).json()["total"]
            states.append((sorted(f["facility_id"] for f in users), gaps, httpx.get(url + "/healthz").json()))
        assert states[0] == states[1] and states[0][0] == sorted(added[1:])
        procs[0].send_signal(signal.SIGKILL)  # the writer dies; what it acknowledged stays
        procs[0].wait(30)
        users = httpx.get(b + "/facilities", params={"source": "user"}, timeout=60).json()["items"]
        assert sorted(f["facility_id"] for f in users) == sorted(added[1:])
        # a retry of an acknowledged POST on the surviving worker adds nothing
        r = httpx.post(b + "/facilities", json=bodies[2], headers={"Idempotency-Key": "k2"}, timeout=60)
        assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
        assert r.json()["facility"]["facility_id"] == added[2]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
    store = FacilityStore(tmp_path / "facilities.sqlite")
    try:
        assert store.revision() == 5 and len(store.added()) == 3
    finally:
        store.close()
