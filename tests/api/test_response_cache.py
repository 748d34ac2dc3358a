"""The response cache of the read endpoints: keyed by the store revision, so an edit on any worker is
seen at once; ETag / If-None-Match answer 304; only 200 answers are kept."""

from __future__ import annotations

import pytest

from api.response_cache import (
    CachedResponse,
    ResponseCache,
    cacheable_path,
    etag_matches,
    normalised_query,
)
from api.settings import Settings
from conftest import service

GAPS = {"category": "canteen", "limit": 1000}


def _canteen_gap_point(base_plan) -> tuple[float, float]:
    """A point inside the first community short of a canteen (WGS84 degrees)."""
    g = base_plan.gaps
    cid = g[(g["category"] == "canteen") & (g["kind"] == "coverage")]["community_id"].iloc[0]
    comm = base_plan.data.communities
    pt = comm[comm["community_id"].astype(str) == str(cid)].geometry.iloc[0].representative_point()
    return round(pt.x, 6), round(pt.y, 6)


def test_a_repeated_read_is_answered_from_the_cache_with_an_etag(base_plan, tmp_path):
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        cache = c.app.state.response_cache
        first = c.get("/gaps", params=GAPS)
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
        etag = first.headers["etag"]
        hits = cache.hits
        # the same query, parameters in another order: one entry
        again = c.get("/gaps?limit=1000&category=canteen")
        assert again.content == first.content and again.headers["etag"] == etag
        assert again.headers["content-type"] == first.headers["content-type"]
        assert cache.hits == hits + 1
        # the client has it: 304 without a body
        same = c.get("/gaps", params=GAPS, headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
        assert c.get("/gaps", params=GAPS, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
        assert c.get("/gaps", params=GAPS, headers={"If-None-Match": '"other"'}).status_code == 200
        # errors are not kept and carry no ETag
        bad = c.get("/gaps", params={"category": "no-such-thing"})
        assert bad.status_code == 422 and "etag" not in bad.headers
        assert c.get("/gaps", params={"category": "no-such-thing"}).status_code == 422
        # the other cached endpoints answer as before, with ETags
        for path in ("/categories", "/communities", "/facilities", "/coverage?category=park"):
            r = c.get(path)
            assert r.status_code == 200 and "etag" in r.headers, path
            assert c.get(path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        # not cached: /healthz, /isochrones
        assert "etag" not in c.get("/healthz").headers


def test_a_cached_answer_changes_after_a_write(base_plan, tmp_path):
    lon, lat = _canteen_gap_point(base_plan)
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        before = c.get("/gaps", params=GAPS)
        users = c.get("/facilities", params={"source": "user"})
        assert users.json()["total"] == 0
        r = c.post("/facilities", json={"category": "canteen", "lon": lon, "lat": lat, "name": "新食堂"})
        assert r.status_code == 201 and r.json()["communities_affected"] >= 1
        after = c.get("/gaps", params=GAPS)
        assert after.content != before.content and after.headers["etag"] != before.headers["etag"]
        # the old ETag no longer matches: the client gets the new answer
        assert (
            c.get("/gaps", params=GAPS, headers={"If-None-Match": before.headers["etag"]}).status_code == 200
        )
        assert c.get("/facilities", params={"source": "user"}).json()["total"] == 1
        # undo: the numbers come back (a new revision, the same body, so the same ETag)
        fid = r.json()["facility"]["facility_id"]
        assert c.delete(f"/facilities/{fid}").status_code == 200
        undone = c.get("/gaps", params=GAPS)
        assert undone.json() == before.json() and undone.headers["etag"] == before.headers["etag"]


def test_two_instances_never_serve_stale_answers_after_a_write(base_plan, tmp_path):
    lon, lat = _canteen_gap_point(base_plan)
    settings = Settings(state_dir=tmp_path / "shared")
    with service(settings, base_plan) as a, service(settings, base_plan) as b:
        gaps_a, gaps_b = a.get("/gaps", params=GAPS), b.get("/gaps", params=GAPS)
        assert gaps_a.content == gaps_b.content and gaps_a.headers["etag"] == gaps_b.headers["etag"]
        assert a.get("/gaps", params=GAPS).content == gaps_a.content  # cached on A
        r = b.post("/facilities", json={"category": "canteen", "lon": lon, "lat": lat})
        assert r.status_code == 201
        fid = r.json()["facility"]["facility_id"]
        new_a, new_b = a.get("/gaps", params=GAPS), b.get("/gaps", params=GAPS)
        assert new_a.content == new_b.content != gaps_a.content
        assert fid in {
            f["facility_id"] for f in a.get("/facilities", params={"source": "user"}).json()["items"]
        }
        assert a.delete(f"/facilities/{fid}").status_code == 200
        assert b.get("/facilities", params={"source": "user"}).json()["total"] == 0
        assert b.get("/gaps", params=GAPS).content == gaps_a.content


def test_a_cache_of_zero_bytes_keeps_nothing(base_plan, tmp_path):
    with service(Settings(state_dir=tmp_path / "s", response_cache_bytes=0), base_plan) as c:
        r = c.get("/gaps", params=GAPS)
        assert r.status_code == 200 and "etag" not in r.headers
        assert len(c.app.state.response_cache) == 0


def test_the_cache_is_bounded_least_recently_used_first():
    def entry(n: int) -> CachedResponse:
        return CachedResponse(200, (), b"x" * n, b'"e"')

    cache = ResponseCache(max_bytes=100, max_entries=3)
    cache.put("a", entry(40))
    cache.put("b", entry(40))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", entry(40))  # 120 bytes: b goes
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    assert cache.size_bytes == 80
    cache.put("big", entry(101))  # larger than the whole cache: not kept
    assert cache.get("big") is None and len(cache) == 2
    for k in "defg":
        cache.put(k, entry(1))
    assert len(cache) == 3


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (b"a=1&b=2", b"b=2&a=1", True),
        (b"category=%E9%A3%9F", b"category=%e9%a3%9f", True),
        (b"category=%E9%A3%9F", "category=食".encode(), False),  # raw bytes: Latin-1, as Starlette reads them
        (b"a=1&a=2", b"a=2&a=1", False),  # a repeated name keeps its order
        (b"a=%FF", b"a=%FE", False),  # undecodable bytes stay apart
        (b"a=", b"a", True),
    ],
)
def test_queries_are_normalised(a, b, same):
    assert (normalised_query(a) == normalised_query(b)) is same


def test_which_paths_and_etags():
    assert cacheable_path("/gaps") and cacheable_path("/communities/abc") and cacheable_path("/categories")
    assert not cacheable_path("/gapsx") and not cacheable_path("/healthz") and not cacheable_path("/sites")
    assert etag_matches(b'W/"x", "y"', b'"x"') and etag_matches(b"*", b'"x"')
    assert not etag_matches(None, b'"x"') and not etag_matches(b'"xy"', b'"x"')


def test_scenario_answers_are_keyed_by_the_scenario_revision(base_plan, tmp_path):
    lon, lat = _canteen_gap_point(base_plan)
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        sid = c.post("/scenarios", json={"name": "一个食堂"}).json()["id"]
        params = {**GAPS, "scenario": sid}
        before = c.get("/gaps", params=params)
        assert before.status_code == 200 and c.get("/gaps", params=params).content == before.content
        change = {"action": "add", "category": "canteen", "lon": lon, "lat": lat}
        assert c.post(f"/scenarios/{sid}/facilities", json=change).status_code == 201
        after = c.get("/gaps", params=params)
        assert after.status_code == 200 and after.content != before.content
        assert c.get("/gaps", params=GAPS).content == before.content  # the baseline is unchanged
        # an unknown or undecodable scenario id is an error, never cached
        for bad in ("nope", "%FF"):
            r = c.get(f"/gaps?category=canteen&scenario={bad}")
            assert r.status_code in (404, 422) and "etag" not in r.headers


def test_answers_of_an_older_revision_are_dropped():
    cache = ResponseCache(max_bytes=1000)
    cache.at_revision(3)
    cache.put("a", CachedResponse(200, (), b"x", b'"e"'))
    cache.at_revision(3)
    assert cache.get("a") is not None
    cache.at_revision(4)
    assert len(cache) == 0 and cache.size_bytes == 0
