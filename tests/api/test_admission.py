"""Quick reads first: requests other than quick reads are admitted a few at a time (first come, first
served), quick reads never wait for them."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Receive, Scope, Send

from api.admission import AdmissionMiddleware, is_quick
from api.settings import Settings
from conftest import service


@pytest.mark.parametrize(
    ("method", "path", "query", "quick"),
    [
        ("GET", "/gaps", b"", True),
        ("GET", "/gaps", b"category=canteen&limit=50&format=csv", True),
        ("GET", "/gaps", b"format=geojson&offset=100", True),
        ("HEAD", "/gaps", b"", True),
        ("GET", "/gaps", b"format=xlsx", False),
        ("GET", "/gaps", b"group_by=street", False),
        ("GET", "/gaps", b"category=park&scenario=abc", False),
        ("GET", "/healthz", b"", True),
        ("GET", "/categories", b"", True),
        ("GET", "/facilities", b"limit=20", True),
        ("GET", "/communities/osm:w1", b"", True),
        ("GET", "/app/static/main.js", b"", True),
        ("POST", "/facilities", b"", False),
        ("DELETE", "/facilities/x", b"", False),
        ("GET", "/isochrones", b"lon=104&lat=30", False),
        ("GET", "/coverage", b"category=park&format=csv", False),
        ("GET", "/sites", b"category=canteen", False),
        ("GET", "/gapsx", b"", False),
        ("GET", "/facilities/deleted", b"", False),
        ("GET", "/edits", b"", False),
        ("POST", "/imports/facilities", b"", True),  # uploads are never queued (streamed at their pace)
        ("POST", "/imports/x1/apply", b"", False),
    ],
)
def test_which_requests_are_quick(method, path, query, quick):
    assert is_quick(method, path, query) is quick


def _scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}


def test_at_most_max_running_work_at_once_and_quick_reads_pass():
    """Three slow edits with one slot run one after another, in arrival order; a quick read sent while
    they wait is answered at once."""
    order: list[str] = []
    active = {"now": 0, "most": 0}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"]
        order.append(f"start {name}")
        if scope["method"] == "POST":
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
            await asyncio.sleep(0.05)
            active["now"] -= 1
        order.append(f"end {name}")

    mw = AdmissionMiddleware(app, max_running=1)

    async def nothing() -> dict:
        return {"type": "http.request"}

    async def ignore(message: dict) -> None:
        return None

    async def main() -> None:
        edits = [asyncio.create_task(mw(_scope("POST", f"/e{i}"), nothing, ignore)) for i in range(3)]
        await asyncio.sleep(0.01)  # the first edit runs, two wait
        assert (mw.running, mw.waiting) == (1, 2)
        await mw(_scope("GET", "/gaps"), nothing, ignore)  # not queued behind them
        assert order[-2:] == ["start /gaps", "end /gaps"] and "end /e0" not in order
        await asyncio.gather(*edits)

    asyncio.run(main())
    assert active["most"] == 1
    edits_seen = [o for o in order if "/e" in o]
    assert edits_seen == ["start /e0", "end /e0", "start /e1", "end /e1", "start /e2", "end /e2"]
    assert (mw.running, mw.waiting) == (0, 0)


def test_a_cancelled_waiter_gives_no_slot_away():
    """A client gone while waiting leaves the count right and the next request is still admitted."""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.05)

    mw = AdmissionMiddleware(slow, max_running=1)

    async def nothing() -> dict:
        return {"type": "http.request"}

    async def ignore(message: dict) -> None:
        return None

    async def main() -> None:
        first = asyncio.create_task(mw(_scope("POST", "/a"), nothing, ignore))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(mw(_scope("POST", "/b"), nothing, ignore))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.gather(first, gone, return_exceptions=True)
        assert (mw.running, mw.waiting) == (0, 0)
        await asyncio.wait_for(mw(_scope("POST", "/c"), nothing, ignore), 1.0)

    asyncio.run(main())


def test_the_service_admits_work_by_the_setting(base_plan, tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        AdmissionMiddleware(lambda *a: None, max_running=0)  # type: ignore[arg-type]
    settings = Settings(state_dir=tmp_path / "s", max_running_work=3)
    with service(settings, base_plan) as c:
        stack = c.app.middleware_stack
        found, order = None, []
        while stack is not None:
            order.append(type(stack).__name__)
            if isinstance(stack, AdmissionMiddleware):
                found = stack
            stack = getattr(stack, "app", None)
        assert found is not None and found.max_running == 3
        # cached answers first, then the body read whole (a slow client holds no slot), then admission
        chain = [n for n in order if n in ("ResponseCacheMiddleware", "BodyGuard", "AdmissionMiddleware")]
        assert chain == ["ResponseCacheMiddleware", "BodyGuard", "AdmissionMiddleware"]
        assert c.get("/gaps", params={"limit": 5}).status_code == 200
        assert c.get("/isochrones", params={"lon": 104.08, "lat": 30.68}).status_code == 200
        assert (found.running, found.waiting) == (0, 0)


def test_quick_reads_in_progress_are_counted():
    seen = []
    mw: AdmissionMiddleware

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["path"], mw.load.quick, mw.load.running))

    mw = AdmissionMiddleware(app, max_running=2)

    async def nothing() -> dict:
        return {"type": "http.request"}

    async def ignore(message: dict) -> None:
        return None

    async def main() -> None:
        await mw(_scope("GET", "/gaps"), nothing, ignore)
        await mw(_scope("GET", "/isochrones"), nothing, ignore)

    asyncio.run(main())
    assert seen == [("/gaps", 1, 0), ("/isochrones", 0, 1)]
    assert (mw.load.quick, mw.load.running, mw.load.waiting) == (0, 0, 0)


def test_isochrones_leave_the_event_loop_to_quick_reads(base_plan, tmp_path, monkeypatch):
    """A near isochrone is computed on the event loop when no quick read is in progress, in a worker
    thread when one is; the answer is the same."""
    import anyio.to_thread

    import api.routers.isochrones as iso

    hops = []
    real = anyio.to_thread.run_sync

    async def counted(func, *args, **kw):
        hops.append(1)
        return await real(func, *args, **kw)

    monkeypatch.setattr(iso.anyio.to_thread, "run_sync", counted)
    params = {"lon": 104.08, "lat": 30.68, "minutes": "5,10"}
    with service(Settings(state_dir=tmp_path / "s"), base_plan) as c:
        alone = c.get("/isochrones", params=params)
        assert alone.status_code == 200 and hops == []
        c.app.state.load.quick += 1  # as if a gap-list page were being answered
        try:
            busy = c.get("/isochrones", params=params)
        finally:
            c.app.state.load.quick -= 1
        assert busy.status_code == 200 and len(hops) == 1
        assert busy.content == alone.content
