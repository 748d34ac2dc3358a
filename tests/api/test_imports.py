"""/imports: a bulk upload answers a validation report first and changes nothing; applying it is one
transaction, durable, and 409 the second time; a refused coordinate check needs force=true."""

from __future__ import annotations

import json

from api_files import box, feature_collection, gcj02_register
from fastapi.testclient import TestClient

from api import create_app
from api.schemas import FacilityPage, GapPage, ImportApplied, ImportPage, ImportReport
from circles.io.coords import wgs84_to_gcj02

#: A register of canteens in GCJ-02 (编号 ids): two in the communities' streets, one far outside the region.
REGISTER = gcj02_register(
    [
        ("望江社区食堂", "社区食堂", 104.0790, 30.6870, "k1"),
        ("新华助餐点", "助餐点", 104.0805, 30.6895, "k2"),
        ("郊外食堂", "食堂", 104.5, 30.7, "k3"),
    ],
    header="名称,类别,经度,纬度,编号",
)


def _post(c, register=REGISTER, name="新增食堂.csv", crs="gcj02", kind="facilities"):
    data = {"crs": crs} if crs is not None else {}
    body = register.encode("utf-8") if isinstance(register, str) else register
    return c.post(f"/imports/{kind}", files={"file": (name, body, "text/csv")}, data=data)


def _state(c):
    """What an import may change: the facility count and the canteen gaps within 10 minutes."""
    gaps = GapPage.model_validate(
        c.get("/gaps", params={"category": "canteen", "minutes": 10, "limit": 100}).json()
    )
    return c.get("/healthz").json()["facilities"], [(g.community_id, g.covered_share) for g in gaps.items]


def test_dry_run_changes_nothing_apply_does_and_a_restart_keeps_it(fresh_user_settings):
    with TestClient(create_app(fresh_user_settings)) as c:
        before = _state(c)
        r = _post(c)
        assert r.status_code == 201, r.text
        report = ImportReport.model_validate(r.json())
        assert report.status == "ready" and report.file_name == "新增食堂.csv" and report.crs == "gcj02"
        assert (report.rows_read, report.rows_accepted, report.rows_dropped_outside) == (3, 2, 1)
        assert report.rows_refused == 0 and report.dropped_outside == ["k3 郊外食堂"]
        assert [(k.category, k.count) for k in report.categories] == [("canteen", 2)]
        assert report.check is not None and report.check.status in ("ok", "unverifiable")
        assert not report.needs_force and report.applied_at is None
        assert _state(c) == before  # the dry run changed nothing
        assert ImportReport.model_validate(c.get(f"/imports/{report.import_id}").json()) == report

        r = c.post(f"/imports/{report.import_id}/apply")
        assert r.status_code == 200, r.text
        applied = ImportApplied.model_validate(r.json())
        assert applied.facilities_added == 2 and not applied.forced
        (cat,) = applied.categories
        assert cat.category == "canteen" and cat.facilities_added == 2 and cat.communities_affected >= 1
        after = _state(c)
        assert after[0] == before[0] + 2 and after[1] != before[1]
        assert cat.coverage_gaps_after <= cat.coverage_gaps_before
        users = FacilityPage.model_validate(c.get("/facilities", params={"source": "user"}).json())
        assert {"k1", "k2"} <= {f.facility_id for f in users.items}
        k1 = next(f for f in users.items if f.facility_id == "k1")
        assert abs(k1.lon - 104.0790) < 1e-6 and abs(k1.lat - 30.6870) < 1e-6  # GCJ-02 converted

        again = c.post(f"/imports/{report.import_id}/apply")
        assert again.status_code == 409 and "applied" in again.json()["detail"]
        assert _state(c) == after
    with TestClient(create_app(fresh_user_settings)) as c:
        assert _state(c) == after
        shown = ImportReport.model_validate(c.get(f"/imports/{report.import_id}").json())
        assert shown.status == "applied" and shown.applied_at == applied.applied_at
        # imported facilities are user facilities like any other: deletable
        assert c.delete("/facilities/k1").status_code == 200
        assert c.get("/healthz").json()["facilities"] == after[0] - 1


def test_refused_rows_and_files(fresh_user_settings):
    with TestClient(create_app(fresh_user_settings)) as c:
        before = _state(c)
        # a reader error names the rows: the file is refused, nothing accepted
        bad = gcj02_register([("茶馆", "茶馆", 104.078, 30.687), ("食堂", "社区食堂", 104.079, 30.687)])
        report = ImportReport.model_validate(_post(c, bad).json())
        assert report.status == "refused" and report.rows_accepted == 0
        (refused,) = report.refused
        assert "'茶馆' in row 1" in refused.reason and "新增食堂.csv" in refused.reason
        assert "/imports/" not in refused.reason  # the client's file name, not where it is kept
        r = c.post(f"/imports/{report.import_id}/apply")
        assert r.status_code == 422 and "nothing to apply" in r.json()["detail"]
        # ids the service already has are refused row by row
        taken = c.get("/facilities", params={"category": "canteen"}).json()["items"][0]["facility_id"]
        dup = gcj02_register(
            [("甲", "社区食堂", 104.079, 30.687, taken), ("乙", "社区食堂", 104.0795, 30.6875, "new-1")],
            header="名称,类别,经度,纬度,编号",
        )
        report = ImportReport.model_validate(_post(c, dup).json())
        assert report.status == "ready" and report.rows_accepted == 1 and report.rows_refused == 1
        assert "already in the service" in report.refused[0].reason and report.refused[0].examples == [
            f"{taken} 甲"
        ]
        assert _state(c) == before


def test_upload_request_errors(fresh_user_settings):
    with TestClient(create_app(fresh_user_settings.model_copy(update={"max_upload_bytes": 2000}))) as c:
        r = _post(c, crs=None)
        assert r.status_code == 422 and "gcj02" in r.json()["detail"]  # a table must declare its CRS
        assert _post(c, crs="mars").status_code == 422
        r = _post(c, name="register.exe")
        assert r.status_code == 422 and ".csv" in r.json()["detail"]
        assert _post(c, "").status_code == 422
        r = _post(c, REGISTER * 40)
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        chunked = c.post(  # no content-length: counted while streamed
            "/imports/facilities",
            content=(b"x" * 1000 for _ in range(10)),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert chunked.status_code == 413 and "too large" in chunked.json()["detail"]
        assert _post(c, kind="communities", name="c.csv").status_code == 422
        assert ImportPage.model_validate(c.get("/imports").json()).total == 0  # nothing recorded
        assert c.get("/imports/nope").status_code == 404
        assert c.post("/imports/nope/apply").status_code == 404
        assert not (fresh_user_settings.state_dir / "imports").exists() or not any(
            (fresh_user_settings.state_dir / "imports").iterdir()
        )


def test_refused_coordinate_check_needs_force(fresh_user_settings):
    """OSM facilities written in GCJ-02 but declared WGS84: the check refuses the file."""
    with TestClient(create_app(fresh_user_settings)) as c:
        osm = c.get("/facilities", params={"source": "osm", "limit": 300}).json()["items"]
        lines = ["编号,名称,类别,经度,纬度"]
        for f in osm:
            glon, glat = wgs84_to_gcj02(f["lon"], f["lat"])
            name = f["name"].replace(",", " ")
            lines.append(f"x{f['facility_id']},{name},{f['category']},{float(glon):.7f},{float(glat):.7f}")
        report = ImportReport.model_validate(_post(c, "\n".join(lines) + "\n", crs="wgs84").json())
        assert report.check is not None and report.check.status == "refuse" and report.needs_force
        assert "GCJ-02" in report.check.message and "force=true" in report.message
        before = _state(c)
        r = c.post(f"/imports/{report.import_id}/apply")
        assert r.status_code == 422 and "force=true" in r.json()["detail"]
        assert _state(c) == before
        r = c.post(f"/imports/{report.import_id}/apply", params={"force": True})
        assert r.status_code == 200 and r.json()["forced"] is True
        shown = ImportReport.model_validate(c.get(f"/imports/{report.import_id}").json())
        assert shown.forced and shown.status == "applied"
        assert c.get("/healthz").json()["facilities"] == before[0] + report.rows_accepted


def test_replacing_the_community_layer(fresh_user_settings):
    streets = [
        ("踏水社区", "猛追湾街道"),
        ("踏水", "猛追湾"),
        ("培华社区", "猛追弯街道"),
        ("无名社区", "某某街道"),
    ]
    layer = feature_collection(
        (
            {"id": f"n{i}", "name": f"新苑{i}", "社区": s, "街道": j, "人口": 1000 + i},
            box(104.07 + 0.003 * i, 30.68),
        )
        for i, (s, j) in enumerate(streets)
    )
    with TestClient(create_app(fresh_user_settings)) as c:
        before = _state(c)
        r = _post(c, layer, name="新社区.geojson", crs=None, kind="communities")
        assert r.status_code == 201, r.text
        report = ImportReport.model_validate(r.json())
        assert report.status == "ready" and report.rows_read == 4 and report.communities is not None
        details = report.communities
        assert details.communities_now == 6 and details.weight_kind == "population"
        assert details.admin_columns == {"community": 4, "street": 4, "district": 0}
        names = {n.level: n for n in details.names}
        assert (names["community"].matched, names["community"].near, names["community"].unknown) == (2, 1, 1)
        flagged = {f.name: f for f in names["street"].flagged}
        assert flagged["猛追弯街道"].suggestions == ["猛追湾街道"] and flagged["某某街道"].status == "unknown"
        assert _state(c) == before and c.get("/communities").json()["total"] == 6

        applied = ImportApplied.model_validate(c.post(f"/imports/{report.import_id}/apply").json())
        assert (applied.communities_before, applied.communities_after) == (6, 4)
        assert applied.weight_kind == "population"
        ids = {x["community_id"] for x in c.get("/communities").json()["items"]}
        assert ids == {"n0", "n1", "n2", "n3"}
        assert c.post(f"/imports/{report.import_id}/apply").status_code == 409
    with TestClient(create_app(fresh_user_settings)) as c:  # a restart plans with the applied layer
        assert {x["community_id"] for x in c.get("/communities").json()["items"]} == ids
        page = ImportPage.model_validate(c.get("/imports").json())
        assert [(i.import_id, i.status) for i in page.items] == [(report.import_id, "applied")]


def test_category_names_in_posts_and_lists(fresh_user_settings):
    with TestClient(create_app(fresh_user_settings)) as c:
        r = c.post("/facilities", json={"category": "长者食堂", "lon": 104.078, "lat": 30.687})
        assert r.status_code == 201 and r.json()["facility"]["category"] == "canteen"
        listed = c.get("/facilities", params={"category": "社区食堂", "source": "user"}).json()
        assert listed["total"] == 3 and {f["category"] for f in listed["items"]} == {"canteen"}  # 2 + 1
        assert c.get("/facilities", params={"category": "茶馆"}).status_code == 422


def test_imports_report_is_json_safe(fresh_user_settings):
    """Reports hold no NaN or infinity (strict JSON) even for awkward files."""
    with TestClient(create_app(fresh_user_settings)) as c:
        odd = gcj02_register([("无面积", "社区食堂", 104.079, 30.687, "")], header="名称,类别,经度,纬度,面积")
        r = _post(c, odd)
        assert r.status_code == 201
        json.loads(r.text, parse_constant=lambda x: (_ for _ in ()).throw(ValueError(x)))
