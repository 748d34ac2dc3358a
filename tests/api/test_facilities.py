"""/facilities: edits are validated, transactional, durable and update coverage."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from api import create_app
from api.schemas import FacilityCreated, FacilityPage, GapPage
from circles.io.coords import wgs84_to_gcj02


def _canteen_gaps(c):
    return GapPage.model_validate(c.get("/gaps", params={"category": "canteen", "limit": 1000}).json())


def test_post_updates_gaps_and_survives_restart(fresh_settings):
    with TestClient(create_app(fresh_settings)) as c:
        before = _canteen_gaps(c)
        worst = before.items[0].community_id
        det = c.get(f"/communities/{worst}").json()
        # put a canteen right at the worst community's nearest street
        comm = c.get("/coverage", params={"category": "canteen"}).json()["features"]
        from shapely.geometry import shape

        poly = next(shape(f["geometry"]) for f in comm if f["properties"].get("community_id") == worst)
        p = poly.representative_point()
        r = c.post(
            "/facilities",
            json={"category": "canteen", "lon": p.x, "lat": p.y, "name": "新社区食堂", "floor_area_m2": 120},
        )
        assert r.status_code == 201, r.text
        created = FacilityCreated.model_validate(r.json())
        assert created.communities_affected >= 1 and created.facility.source == "user"
        after = _canteen_gaps(c)
        assert after.total <= before.total
        assert after.items[0].community_id != worst  # no longer the worst canteen gap
        det2 = c.get(f"/communities/{worst}").json()

        def can(d):
            return next(x for x in d["categories"] if x["category"] == "canteen")

        assert can(det)["covered_share"] == 0 and can(det2)["covered_share"] > 0.5
        assert can(det2)["nearest_time_min"] < can(det)["nearest_time_min"]
        assert can(det2)["nearest_facility_source"] == "user"
        fid = created.facility.facility_id
    # restart on the same database: still there, still counted
    with TestClient(create_app(fresh_settings)) as c:
        fac = FacilityPage.model_validate(c.get("/facilities", params={"source": "user"}).json())
        assert [f.facility_id for f in fac.items] == [fid]
        assert _canteen_gaps(c).total == after.total
        assert c.delete(f"/facilities/{fid}").status_code == 200
        assert _canteen_gaps(c).total == before.total
    with TestClient(create_app(fresh_settings)) as c:
        assert FacilityPage.model_validate(c.get("/facilities", params={"source": "user"}).json()).total == 0


def test_deleting_a_base_facility_is_durable(fresh_settings):
    with TestClient(create_app(fresh_settings)) as c:
        parks = FacilityPage.model_validate(c.get("/facilities", params={"category": "park"}).json())
        gone = parks.items[0].facility_id
        assert c.delete(f"/facilities/{gone}").status_code == 200
        assert c.delete(f"/facilities/{gone}").status_code == 404
    with TestClient(create_app(fresh_settings)) as c:
        ids = {
            f.facility_id
            for f in FacilityPage.model_validate(
                c.get("/facilities", params={"category": "park"}).json()
            ).items
        }
        assert gone not in ids and len(ids) == parks.total - 1


def test_gcj02_coordinates_are_converted(fresh_settings):
    lon, lat = 104.0800, 30.6900
    glon, glat = wgs84_to_gcj02(lon, lat)
    with TestClient(create_app(fresh_settings)) as c:
        r = c.post(
            "/facilities",
            json={"category": "public_toilet", "lon": float(glon), "lat": float(glat), "crs": "gcj02"},
        )
        assert r.status_code == 201
        f = r.json()["facility"]
        assert abs(f["lon"] - lon) < 1e-6 and abs(f["lat"] - lat) < 1e-6


def test_bad_posts_change_nothing(fresh_settings):
    bad = [
        ({"category": "teahouse", "lon": 104.08, "lat": 30.69}, 422, "teahouse"),
        ({"category": "canteen", "lon": 104.5, "lat": 30.69}, 422, "outside region"),
        ({"category": "canteen", "lon": 200, "lat": 30.69}, 422, "lon"),
        ({"category": "canteen", "lon": 104.08, "lat": 30.69, "crs": "mars"}, 422, "mars"),
        ({"category": "canteen", "lon": 104.08, "lat": 30.69, "crs": "IAU_2015:30100"}, 422, "WGS84"),
        ({"category": "canteen", "lon": 104.08, "lat": 30.69, "floor_area_m2": -5}, 422, "floor_area_m2"),
        ({"category": "canteen", "lon": 104.08}, 422, "lat"),
        ({"category": "canteen", "lon": 104.08, "lat": 30.69, "colour": "red"}, 422, "colour"),
    ]
    with TestClient(create_app(fresh_settings)) as c:
        n0 = c.get("/healthz").json()["facilities"]
        for body, status, needle in bad:
            r = c.post("/facilities", json=body)
            assert r.status_code == status and needle in str(r.json()["detail"]), (body, r.text)
        r = c.post("/facilities", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        r = c.post("/facilities", content=b"x" * 100_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        assert c.get("/healthz").json()["facilities"] == n0
    with TestClient(create_app(fresh_settings)) as c:
        assert c.get("/healthz").json()["facilities"] == n0


def test_concurrent_writes_and_reads_stay_consistent(fresh_settings):
    with TestClient(create_app(fresh_settings)) as c:
        n0 = c.get("/healthz").json()["facilities"]
        errors = []

        def writer(i):
            r = c.post("/facilities", json={"category": "canteen", "lon": 104.06 + 0.005 * i, "lat": 30.68})
            if r.status_code != 201:
                errors.append(r.text)

        def reader():
            for _ in range(5):
                p = GapPage.model_validate(
                    c.get("/gaps", params={"category": "canteen", "limit": 1000}).json()
                )
                if p.total != len(p.items):
                    errors.append("inconsistent page")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)] + [
            threading.Thread(target=reader) for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert c.get("/healthz").json()["facilities"] == n0 + 6
        assert FacilityPage.model_validate(c.get("/facilities", params={"source": "user"}).json()).total == 6


def test_derived_pages_are_cached_on_the_result_they_belong_to(fresh_settings):
    with TestClient(create_app(fresh_settings)) as c:
        state = c.app.state.service
        old = state.result
        first = c.get("/gaps", params={"category": "canteen"}).json()
        assert c.get("/maps/chengdu-central.html", params={"category": "canteen"}).status_code == 200
        assert set(old.caches["api_maps"]) == {("canteen", 10)}
        index = old.caches["api"]["gap_index"]
        assert c.get("/gaps", params={"category": "canteen"}).json() == first
        assert old.caches["api"]["gap_index"] is index  # reused, not rebuilt
        r = c.post("/facilities", json={"category": "canteen", "lon": 104.07, "lat": 30.67})
        assert r.status_code == 201
        new = state.result
        assert new is not old and "api_maps" not in new.caches  # a new result starts without pages
        assert c.get("/gaps", params={"category": "canteen"}).json()["total"] <= first["total"]
        assert new.caches["api"]["gap_index"] is not index
        assert old.caches["api"]["gap_index"] is index  # readers holding the old result keep its pages
