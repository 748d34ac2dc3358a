"""No 500 on any input: non-finite numbers and invalid Unicode in JSON bodies are a 422 with a detail;
bad settings fail at start-up in one line; stalled and oversized bodies are a 408 / 413 on every route;
/healthz answers while every worker thread is busy."""

from __future__ import annotations

import json
import threading
import time

import anyio
import pytest

from api import create_app
from api.body_guard import BodyGuard
from api.errors import SettingsError, StoreError
from api.settings import Settings
from api.strict_json import strict_loads
from conftest import service

GOOD = {"category": "canteen", "lon": 104.08, "lat": 30.69}


@pytest.fixture(scope="module")
def client(base_plan, tmp_path_factory):
    with service(Settings(state_dir=tmp_path_factory.mktemp("robust")), base_plan) as c:
        yield c


def _raw(field: str, literal: str) -> bytes:
    """GOOD with ``field`` set to a raw JSON ``literal`` (which json.dumps would never write)."""
    body = json.dumps({**GOOD, field: "@@"})
    return body.replace('"@@"', literal).encode()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000])
@pytest.mark.parametrize("field", ["lon", "lat", "floor_area_m2"])
def test_non_finite_numbers_are_422(client, field, literal):
    r = client.post("/facilities", content=_raw(field, literal), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["type"] == "json_invalid" and (
        "finite" in err["ctx"]["error"] or "digits" in err["ctx"]["error"]
    )


@pytest.mark.parametrize("field", ["name", "category", "crs"])
@pytest.mark.parametrize("literal", ['"\\ud800"', '"a\\udfffb"', '"\\udc80"'])
def test_lone_surrogates_are_422(client, field, literal):
    r = client.post("/facilities", content=_raw(field, literal), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "surrogate" in r.json()["detail"][0]["ctx"]["error"]
    r.json()  # the answer itself is valid UTF-8 JSON


def test_odd_bodies_are_4xx_and_change_nothing(client):
    n0 = client.get("/healthz").json()["facilities"]
    for body in (
        b"\xff\xfe{}",  # not UTF-8
        b'{"category": "canteen", "lon": 104.08, "lat": 30.69, "\\ud800": 1}',  # a key
        b'{"category": ["\\ud800"], "lon": 104.08, "lat": 30.69}',
        b"[1e400]",
        b"NaN",
    ):
        r = client.post("/facilities", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"]
    assert client.get("/healthz").json()["facilities"] == n0
    assert client.get("/edits").json()["total"] == 0


def test_strict_loads():
    assert strict_loads(b'{"a": [1.5, -2e10, "\\u4e2d"]}') == {"a": [1.5, -2e10, "中"]}
    assert strict_loads('"\\ud83d\\ude00"') == "😀"  # a surrogate pair is fine
    for bad in (b"NaN", b"[Infinity]", b"1e309", b'"\\ud83d"', b"\xc3("):
        with pytest.raises(json.JSONDecodeError):
            strict_loads(bad)


def test_settings_are_checked_in_one_line(tmp_path, monkeypatch):
    with pytest.raises(SettingsError, match=r"^CIRCLES_WORKER_THREADS=0: .*greater than or equal to 1$"):
        Settings(worker_threads=0)
    monkeypatch.setenv("CIRCLES_WORKER_THREADS", "0")
    with pytest.raises(SettingsError, match="CIRCLES_WORKER_THREADS"):
        Settings()
    monkeypatch.setenv("CIRCLES_WORKER_THREADS", "")  # empty: unset
    assert Settings().worker_threads == 2
    monkeypatch.setenv("CIRCLES_MAX_UPLOAD_BYTES", "100")
    monkeypatch.setenv("CIRCLES_MAX_IMPORT_BYTES", "10")
    with pytest.raises(SettingsError, match="max_import_bytes must be at least max_upload_bytes"):
        Settings()
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(SettingsError, match="is a file, not a folder"):
        create_app(Settings(state_dir=file, max_upload_bytes=10))
    corrupt = tmp_path / "state"
    corrupt.mkdir()
    (corrupt / "facilities.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="is not usable") as e:
        create_app(Settings(state_dir=corrupt, max_upload_bytes=10))
    assert "\n" not in str(e.value)


async def _run_guard(guard, body_messages, *, hang=False):
    """Call ``guard`` with a request streaming ``body_messages`` (then hanging when ``hang``); returns
    (status, body) of what it sent."""
    sent = []
    queue = list(body_messages)

    async def receive():
        if queue:
            return queue.pop(0)
        if hang:
            await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/facilities", "headers": []}
    await guard(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


async def _app_never_reading(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_stalled_body_is_408_and_oversized_chunks_413():
    guard = BodyGuard(_app_never_reading, max_bytes=1024, timeout_s=0.2)
    t0 = time.perf_counter()
    status, body = anyio.run(
        lambda: _run_guard(guard, [{"type": "http.request", "body": b'{"a":', "more_body": True}], hang=True)
    )
    assert status == 408 and "no bytes for 0.2 s" in body["detail"]
    assert time.perf_counter() - t0 < 2
    # chunked (no content-length) over the limit: 413 although the route never reads its body
    chunks = [{"type": "http.request", "body": b"x" * 600, "more_body": True} for _ in range(3)]
    status, body = anyio.run(lambda: _run_guard(guard, chunks))
    assert status == 413 and "too large" in body["detail"]
    status, _ = anyio.run(lambda: _run_guard(guard, [{"type": "http.request", "body": b"x" * 100}]))
    assert status == 200


def test_oversized_chunked_body_is_413_on_every_write_route(client):
    def chunks():
        for _ in range(20):
            yield b"x" * 1000

    for path in ("/facilities", "/facilities/osm:n1/restore", "/imports/nope/apply"):
        r = client.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["detail"], (path, r.text)
    r = client.post("/facilities", content=b"x" * 20_000, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_healthz_answers_while_every_worker_thread_is_busy(base_plan, tmp_path):
    """One worker thread, held by a map that cannot finish: /healthz still answers at once (it runs on
    the event loop), and the map completes once released."""
    settings = Settings(state_dir=tmp_path / "s", worker_threads=1)
    with service(settings, base_plan) as c:
        state = c.app.state.service
        release, started = threading.Event(), threading.Event()

        def stuck_map(category, minutes):
            started.set()
            release.wait(30)
            return "<html></html>"

        state.map_html = stuck_map
        answers = []
        heavy = threading.Thread(target=lambda: answers.append(c.get("/maps/chengdu-central.html")))
        heavy.start()
        try:
            assert started.wait(10)
            t0 = time.perf_counter()
            r = c.get("/healthz")
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200 and r.json()["status"] == "ok"
            assert elapsed < 1.0, elapsed
        finally:
            release.set()
            heavy.join(30)
        assert answers[0].status_code == 200


def test_a_trickling_body_is_408_once_below_the_minimum_rate(monkeypatch):
    """A client sending a byte now and then (each within the silence timeout) cannot hold a request
    open for long: after the first ``timeout_s`` the body must keep up MIN_BODY_RATE_B_S on average."""
    import api.body_guard as bg

    monkeypatch.setattr(bg, "MIN_BODY_RATE_B_S", 100.0)
    guard = BodyGuard(_app_never_reading, max_bytes=1024, timeout_s=0.3)

    async def trickle():
        sent = []
        n = 0

        async def receive():
            nonlocal n
            n += 1
            await anyio.sleep(0.1)  # always within the silence timeout
            return {"type": "http.request", "body": b" ", "more_body": n < 1000}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/facilities", "headers": []}
        await guard(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, json.loads(
            b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        )

    t0 = time.perf_counter()
    status, body = anyio.run(trickle)
    elapsed_s = time.perf_counter() - t0
    assert status == 408 and "too slow" in body["detail"], body
    assert 0.3 <= elapsed_s < 1.5  # 0.3 s + a few bytes at 100 B/s, not 1000 x 0.1 s
    # a body arriving steadily above the rate is read whole
    chunks = [{"type": "http.request", "body": b"x" * 50, "more_body": True} for _ in range(10)]
    status, _ = anyio.run(lambda: _run_guard(guard, [*chunks, {"type": "http.request", "body": b""}]))
    assert status == 200


def test_someone_elses_database_is_refused_in_one_line_and_left_alone(tmp_path):
    """A facilities.sqlite with a table of the store's name but other columns is refused at start-up
    (it failed later, in the worker, with a traceback), before anything is written to it."""
    import sqlite3

    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "facilities.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE edit_log (x)")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match="not a circles store .table edit_log lacks") as e:
        create_app(Settings(state_dir=folder))
    assert "\n" not in str(e.value) and "CIRCLES_STATE_DIR" in str(e.value)
    assert db.read_bytes() == before
    # a store of an earlier version (without the columns MIGRATIONS adds) is still opened and migrated
    from api.store import FacilityStore

    old = tmp_path / "old" / "facilities.sqlite"
    FacilityStore(old).close()
    con = sqlite3.connect(old)
    con.execute("ALTER TABLE added_facility DROP COLUMN import_id")
    con.commit()
    con.close()
    FacilityStore(old).close()
