"""Writes need a token when the service has tokens (401 without, 403 wrong), reads stay open; without
tokens only local clients write. Every edit is audited; deleted and hidden facilities can be listed and
restored (the base data is never lost); POSTs with an Idempotency-Key are answered once."""

from __future__ import annotations

import pytest

from api.access import Access, open_host_warning, token_digest
from api.errors import SettingsError
from api.schemas import DeletedFacilityPage, EditPage, FacilityCreated
from api.settings import Settings
from conftest import service

TOKEN = "s3cret-token-for-tests"
CANTEEN = {"category": "canteen", "lon": 104.07, "lat": 30.67}


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    path.write_text(f"# planners\nwang sha256:{token_digest('wang-token-123456')}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def closed(base_plan, tmp_path_factory, tokens_file):
    """A service with a token from the environment and one from a tokens file (hashed)."""
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("closed"), write_token=TOKEN, write_tokens_file=tokens_file
    )
    with service(settings, base_plan) as c:
        yield c


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_writes_need_a_token_reads_do_not(closed):
    n0 = closed.get("/healthz").json()["facilities"]
    r = closed.post("/facilities", json=CANTEEN)
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = closed.post("/facilities", json=CANTEEN, headers=_auth("wrong-token-000000"))
    assert r.status_code == 403 and "not valid" in r.json()["detail"]
    assert closed.post("/facilities", json=CANTEEN, headers={"Authorization": TOKEN}).status_code == 401
    some = closed.get("/facilities", params={"limit": 1}).json()["items"][0]["facility_id"]
    for method, path in (
        ("DELETE", f"/facilities/{some}"),
        ("POST", f"/facilities/{some}/restore"),
        ("POST", "/imports/abc/apply"),
    ):
        assert closed.request(method, path).status_code == 401, path
    r = closed.post("/imports/facilities", files={"file": ("a.csv", b"x,y\n1,2\n", "text/csv")})
    assert r.status_code == 401
    assert (
        closed.get("/sites", params={"category": "canteen", "k": 1, "format": "geojson"}).status_code == 401
    )
    for path in ("/healthz", "/gaps", "/facilities", "/edits", "/facilities/deleted", "/imports"):
        assert closed.get(path).status_code == 200, path
    assert closed.get("/healthz").json()["facilities"] == n0
    # the right tokens write, and the audit log says who
    r = closed.post("/facilities", json=CANTEEN, headers=_auth(TOKEN))
    assert r.status_code == 201
    fid = FacilityCreated.model_validate(r.json()).facility.facility_id
    assert closed.delete(f"/facilities/{fid}", headers=_auth("wang-token-123456")).status_code == 200
    log = EditPage.model_validate(closed.get("/edits").json())
    assert [(e.action, e.actor, e.target) for e in log.items[:2]] == [
        ("delete", "token:wang", fid),
        ("add", "token:env", fid),
    ]
    assert log.items[0].client == "testclient"


def test_without_tokens_only_local_clients_write(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "open")
    with service(settings, base_plan, client=("203.0.113.7", 40000)) as remote:
        r = remote.post("/facilities", json=CANTEEN)
        assert r.status_code == 403 and "CIRCLES_WRITE_TOKEN" in r.json()["detail"]
        assert remote.get("/gaps").status_code == 200
    for host in ("127.0.0.1", "::1"):
        with service(settings, base_plan, client=(host, 40000)) as local:
            assert local.post("/facilities", json=CANTEEN).status_code == 201
            assert local.get("/edits").json()["items"][0]["actor"] == "local"


def test_token_settings(tmp_path):
    assert open_host_warning(Settings(), "127.0.0.1") is None
    assert "0.0.0.0 without a write token" in (open_host_warning(Settings(), "0.0.0.0") or "")
    assert open_host_warning(Settings(write_token=TOKEN), "0.0.0.0") is None
    assert Access.from_settings(Settings(write_token=f"sha256:{token_digest(TOKEN)}")).actor(
        TOKEN, None
    ).name == ("token:env")
    with pytest.raises(SettingsError, match="at least 16 characters"):
        Access.from_settings(Settings(write_token="short"))
    bad = tmp_path / "bad.txt"
    bad.write_text("wang plain-token\n")
    with pytest.raises(SettingsError, match="line 1: expected 'NAME sha256:"):
        Access.from_settings(Settings(write_tokens_file=bad))
    with pytest.raises(SettingsError, match="cannot be read"):
        Access.from_settings(Settings(write_tokens_file=tmp_path / "missing.txt"))


@pytest.fixture(scope="module")
def client(base_plan, tmp_path_factory):
    with service(Settings(state_dir=tmp_path_factory.mktemp("edits")), base_plan) as c:
        yield c


def test_deleted_facilities_are_listed_and_restored(client):
    n0 = client.get("/healthz").json()["facilities"]
    park = client.get("/facilities", params={"category": "park", "limit": 1}).json()["items"][0]
    r = client.post("/facilities", json={**CANTEEN, "name": "新食堂", "floor_area_m2": 80})
    user = r.json()["facility"]
    for fid in (park["facility_id"], user["facility_id"]):
        assert client.delete(f"/facilities/{fid}").status_code == 200
    assert client.get("/healthz").json()["facilities"] == n0 - 1
    deleted = DeletedFacilityPage.model_validate(client.get("/facilities/deleted").json())
    assert [d.facility_id for d in deleted.items] == [user["facility_id"], park["facility_id"]]
    shown = {d.facility_id: d.model_dump(exclude={"deleted_at"}) for d in deleted.items}
    assert shown[park["facility_id"]] == park and shown[user["facility_id"]] == user
    for fid, d in ((park["facility_id"], park), (user["facility_id"], user)):
        r = client.post(f"/facilities/{fid}/restore")
        assert r.status_code == 200, r.text
        assert r.json()["facility"] == d
        again = client.post(f"/facilities/{fid}/restore")
        assert again.status_code == 409 and "nothing to restore" in again.json()["detail"]
    assert client.get("/healthz").json()["facilities"] == n0 + 1
    assert client.get("/facilities/deleted").json()["total"] == 0
    assert client.post("/facilities/osm:nothing/restore").status_code == 404
    actions = [e["action"] for e in client.get("/edits").json()["items"]]
    assert actions[:5] == ["restore", "restore", "delete", "delete", "add"]


def test_idempotent_posts_are_answered_once(client):
    n0 = client.get("/healthz").json()["facilities"]
    key = {"Idempotency-Key": "2f1c7c1e-retry-me"}
    first = client.post("/facilities", json=CANTEEN, headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post("/facilities", json=CANTEEN, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert client.get("/healthz").json()["facilities"] == n0 + 1
    other = client.post("/facilities", json={**CANTEEN, "lat": 30.675}, headers=key)
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert client.post("/facilities", json=CANTEEN, headers={"Idempotency-Key": "bad key"}).status_code == 422
    assert client.get("/healthz").json()["facilities"] == n0 + 1


def test_idempotent_apply_answers_the_first_answer(fresh_user_settings):
    from api_files import gcj02_register
    from fastapi.testclient import TestClient

    from api import create_app

    register = gcj02_register(
        [("食堂", "社区食堂", 104.0790, 30.6870, "k1")], header="名称,类别,经度,纬度,编号"
    )
    with TestClient(create_app(fresh_user_settings)) as c:
        r = c.post(
            "/imports/facilities",
            files={"file": ("r.csv", register.encode(), "text/csv")},
            data={"crs": "gcj02"},
        )
        import_id = r.json()["import_id"]
        key = {"Idempotency-Key": "apply-1"}
        first = c.post(f"/imports/{import_id}/apply", headers=key)
        assert first.status_code == 200, first.text
        again = c.post(f"/imports/{import_id}/apply", headers=key)
        assert again.status_code == 200 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert c.post(f"/imports/{import_id}/apply").status_code == 409  # without the key: applied already
        assert c.get("/edits").json()["total"] == 1
