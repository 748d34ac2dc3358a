"""Bounded disk: an export is written once per distinct request (category, k, format, store revision)
and reused; the exports folder and the stored uploads stay under their caps, oldest first."""

from __future__ import annotations

import os
import time

from api.disk import export_name, prune_files, prune_imports
from api.settings import Settings
from conftest import service


def _export_files(settings):
    return sorted(p.name for p in settings.export_dir.iterdir() if not p.name.startswith("."))


def test_identical_export_requests_share_one_file(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "s")
    with service(settings, base_plan) as c:
        params = {"category": "canteen", "k": 2, "format": "gpkg"}
        names = set()
        for _ in range(50):
            r = c.get("/sites", params=params)
            assert r.status_code == 200, r.text
            names.add(r.json()["download"])
        assert len(names) == 1 and len(_export_files(settings)) == 1
        (url,) = names
        first = c.get(url)
        assert first.status_code == 200 and first.content[:16] == b"SQLite format 3\x00"
        assert c.get("/sites", params={**params, "format": "geojson"}).json()["download"] != url
        assert len(_export_files(settings)) == 2
        # an edit makes a new revision: a new file (the old one stays until the cap takes it)
        assert (
            c.post("/facilities", json={"category": "canteen", "lon": 104.07, "lat": 30.67}).status_code
            == 201
        )
        assert c.get("/sites", params=params).json()["download"] != url
        assert len(_export_files(settings)) == 3


def test_the_export_folder_is_capped(base_plan, tmp_path):
    settings = Settings(state_dir=tmp_path / "s", max_export_bytes=1)  # every older file goes
    with service(settings, base_plan) as c:
        urls = []
        for k in (1, 2, 3):
            r = c.get("/sites", params={"category": "canteen", "k": k, "format": "geojson"})
            urls.append(r.json()["download"])
            assert _export_files(settings) == [urls[-1].rsplit("/", 1)[1]]  # only the newest is kept
        assert c.get(urls[0]).status_code == 404 and "ask /sites again" in c.get(urls[0]).json()["detail"]
        assert c.get(urls[-1]).status_code == 200


def test_prune_files_by_size_and_age(tmp_path):
    now = time.time()
    for i, name in enumerate(["a.gpkg", "b.gpkg", "c.gpkg", "d.gpkg"]):
        (tmp_path / name).write_bytes(b"x" * 100)
        os.utime(tmp_path / name, (now - 100 + i, now - 100 + i))  # a oldest
    (tmp_path / ".e.gpkg.abc.tmp").write_bytes(b"x")  # a writer at work: kept
    os.utime(tmp_path / "b.gpkg", (now - 10_000, now - 10_000))  # too old
    gone = prune_files(tmp_path, max_bytes=250, max_age_s=5000, keep=[tmp_path / "a.gpkg"])
    assert sorted(p.name for p in gone) == ["b.gpkg", "c.gpkg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".e.gpkg.abc.tmp", "a.gpkg", "d.gpkg"]
    assert export_name("sites", "gpkg", k=1, category="x") == export_name("sites", "gpkg", category="x", k=1)
    assert export_name("sites", "gpkg", k=1) != export_name("sites", "gpkg", k=2)


def test_prune_imports_keeps_the_layer_in_use(tmp_path):
    now = time.time()
    for i, name in enumerate(["old", "layer", "mid", "new"]):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "f.csv").write_bytes(b"x" * 100)
        os.utime(folder, (now - 100 + i, now - 100 + i))
    assert prune_imports(tmp_path, max_bytes=200, keep={"layer", "new"}) == ["old", "mid"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer", "new"]


def test_stored_uploads_are_capped(fresh_user_settings):
    from api_files import gcj02_register
    from fastapi.testclient import TestClient

    from api import create_app

    register = gcj02_register(
        [("食堂", "社区食堂", 104.0790, 30.6870, "k1")], header="名称,类别,经度,纬度,编号"
    )
    size = len(register.encode())
    settings = fresh_user_settings.model_copy(update={"max_import_bytes": 3 * (size + 200)})
    with TestClient(create_app(settings)) as c:
        ids = []
        for _ in range(6):
            r = c.post(
                "/imports/facilities",
                files={"file": ("r.csv", register.encode(), "text/csv")},
                data={"crs": "gcj02"},
            )
            assert r.status_code == 201
            ids.append(r.json()["import_id"])
        kept = sorted(p.name for p in settings.imports_dir.iterdir())
        assert ids[-1] in kept and ids[0] not in kept and len(kept) < len(ids)
        total = sum(f.stat().st_size for f in settings.imports_dir.rglob("*") if f.is_file())
        assert total <= settings.max_import_bytes
        r = c.post(f"/imports/{ids[0]}/apply")  # its stored rows are gone: upload again
        assert r.status_code == 409 and "upload the file again" in r.json()["detail"]
        assert c.post(f"/imports/{ids[-1]}/apply").status_code == 200
