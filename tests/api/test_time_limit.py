"""The time limit of heavy requests (``CIRCLES_REQUEST_TIME_LIMIT_S``): a 504 with a JSON detail past
it, never a half-written file or a half-applied edit."""

from __future__ import annotations

import pytest
from api_files import gcj02_register

from api.settings import Settings
from api.time_limit import Deadline, RequestTimeLimitError, is_heavy
from conftest import service

TINY_S = 0.001


def _no_temporary_files(folder) -> bool:
    return not folder.exists() or not any(p.name.endswith(".tmp") for p in folder.iterdir())


def test_a_heavy_request_past_the_limit_is_a_504(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "s", request_time_limit_s=TINY_S)
    with service(settings, base_plan) as c:
        region = c.get("/healthz").json()["region"]
        r = c.get(f"/maps/{region}.html", params={"category": "canteen"})
        assert r.status_code == 504, r.text[:200]
        assert "CIRCLES_REQUEST_TIME_LIMIT_S" in r.json()["detail"] and r.json()["time_limit_s"] == TINY_S
        r = c.get("/sites", params={"category": "canteen", "k": 2, "format": "gpkg"})
        assert r.status_code == 504 and "time limit" in r.json()["detail"]
        assert _no_temporary_files(settings.export_dir)  # a file is whole or absent
        # light endpoints have no limit
        assert c.get("/gaps", params={"limit": 5}).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_an_import_applied_past_the_limit_changes_nothing(base_plan, tmp_path):
    state_dir = tmp_path / "shared"
    register = gcj02_register(
        [("限时食堂", "社区食堂", 104.0790, 30.6870, "t1")], header="名称,类别,经度,纬度,编号"
    )
    with (
        service(Settings(state_dir=state_dir), base_plan) as ok,
        service(Settings(state_dir=state_dir, request_time_limit_s=TINY_S), base_plan) as slow,
    ):
        r = ok.post(
            "/imports/facilities",
            files={"file": ("r.csv", register.encode(), "text/csv")},
            data={"crs": "gcj02"},
        )
        assert r.status_code == 201, r.text
        iid = r.json()["import_id"]
        r = slow.post(f"/imports/{iid}/apply", headers={"Idempotency-Key": "late-1"})
        assert r.status_code == 504, r.text
        # rolled back whole: no revision, no facility, not marked applied, no stored answer
        assert ok.get("/healthz").json()["store_revision"] == 0
        assert ok.get("/facilities", params={"source": "user"}).json()["total"] == 0
        assert ok.get(f"/imports/{iid}").json()["applied_at"] is None
        assert ok.get("/edits").json()["total"] == 0
        r = ok.post(f"/imports/{iid}/apply", headers={"Idempotency-Key": "late-1"})
        assert r.status_code == 200 and r.headers.get("Idempotent-Replayed") is None
        assert slow.get("/facilities", params={"source": "user"}).json()["total"] == 1


def test_a_request_within_the_limit_is_answered(base_plan, tmp_path):
    with service(Settings(state_dir=tmp_path / "s", request_time_limit_s=120), base_plan) as c:
        r = c.get("/sites", params={"category": "canteen", "k": 1})
        assert r.status_code == 200 and r.json()["sites"]


def test_a_begun_commit_is_never_expired_and_an_expired_request_never_commits():
    d = Deadline(60)
    d.begin_commit()
    assert d.expire() is False  # the client waits for the commit
    late = Deadline(60)
    assert late.expire() is True
    with pytest.raises(RequestTimeLimitError):
        late.begin_commit()
    with pytest.raises(RequestTimeLimitError):
        late.check()
    gone = Deadline(1e-9)
    with pytest.raises(RequestTimeLimitError):
        gone.begin_commit()


def test_which_paths_are_heavy():
    assert is_heavy("/sites") and is_heavy("/maps/chengdu.html") and is_heavy("/imports/abc/apply")
    assert is_heavy("/scenarios/s1/export")
    assert not is_heavy("/sitesx") and not is_heavy("/imports/abc") and not is_heavy("/gaps")
