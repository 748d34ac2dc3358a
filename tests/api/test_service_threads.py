"""The service's threads and interpreter switch interval: set from the settings while it runs (cheap
reads on the event loop wait less for the interpreter lock), the process's own restored after it; bad
values are one-line settings errors."""

from __future__ import annotations

import sys

import anyio.to_thread
import pytest

from api.errors import SettingsError
from api.settings import Settings
from conftest import service


def test_switch_interval_and_threads_follow_the_settings(base_plan, tmp_path):
    before = sys.getswitchinterval()
    settings = Settings(state_dir=tmp_path / "s", switch_interval_ms=0.25, worker_threads=3)
    with service(settings, base_plan) as c:
        assert sys.getswitchinterval() == pytest.approx(0.00025)
        seen = c.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
        assert seen == 3
        assert c.get("/healthz").status_code == 200
    assert sys.getswitchinterval() == before


def test_defaults_and_bad_values(monkeypatch):
    assert Settings().switch_interval_ms == 0.5 and Settings().worker_threads == 2
    monkeypatch.setenv("CIRCLES_SWITCH_INTERVAL_MS", "0")
    with pytest.raises(
        SettingsError, match=r"^CIRCLES_SWITCH_INTERVAL_MS=0: .*greater than or equal to 0.05$"
    ):
        Settings()
    monkeypatch.setenv("CIRCLES_SWITCH_INTERVAL_MS", "")  # empty: unset
    assert Settings().switch_interval_ms == 0.5


def test_requests_behind_the_store_share_one_catching_up(base_plan, tmp_path):
    """Another worker's edit: five concurrent requests of this worker wait for one refresh, in one
    thread, and all see the edit."""
    import anyio

    from api.dependencies import CatchUp
    from api.state import ServiceState
    from api.store import Actor

    settings = Settings(state_dir=tmp_path / "s")
    mine, other = ServiceState(settings, base=base_plan), ServiceState(settings, base=base_plan)
    try:
        g = base_plan.gaps
        cid = g[(g["category"] == "canteen") & (g["kind"] == "coverage")]["community_id"].iloc[0]
        comm = base_plan.data.communities
        pt = comm[comm["community_id"].astype(str) == str(cid)].geometry.iloc[0].representative_point()
        added = other.add_facility("canteen", pt.x, pt.y, "wgs84", None, None, actor=Actor("t", None))
        fid = added.body["facility"]["facility_id"]
        assert not mine.is_current()
        calls = []
        refresh = mine.refresh

        def counted():
            calls.append(1)
            return refresh()

        mine.refresh = counted  # type: ignore[method-assign]
        catch_up = CatchUp()
        target = mine.store.revision()

        async def five():
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(catch_up, mine, target)

        anyio.run(five)
        assert calls == [1]
        assert mine.is_current()
        anyio.run(catch_up, mine, target)  # nothing left to catch up with: no refresh
        assert calls == [1]
        assert fid in set(mine.result.data.facilities["facility_id"].astype(str))
        # the caught-up plan was published with its gap index built: no reader waits for one
        from api.gap_index import cached_gap_index

        assert cached_gap_index(mine.result) is not None
    finally:
        mine.close()
        other.close()
