"""A small, bounded run of the load generator (``bench/load_targets.py``) against two worker processes
on one store: mixed reads and writes from 10 clients, then every acknowledged edit is checked on both
workers. No latency is asserted (the machine is shared); errors, lost and diverging edits are."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def load_targets():
    sys.path.insert(0, str(BENCH))
    try:
        import load_targets

        yield load_targets
    finally:
        sys.path.remove(str(BENCH))


def test_two_workers_under_mixed_load_lose_and_diverge_nothing(chengdu_osm, load_targets, tmp_path):
    lt = load_targets
    servers = lt.start(2, tmp_path)
    try:
        ports = [s.port for s in servers]
        status, cats = lt.get_json(ports[0], "/categories")
        assert status == 200
        reqs = lt.mixed(random.Random(7), 160, [c["key"] for c in cats], write_every=10)
        result = lt.run(ports, reqs, 10, 120.0, servers)
        samples = result["samples"]
        assert len(samples) == len(reqs)  # none cut off by the time cap
        summary = lt.summarise(samples, result["wall_s"])
        assert summary["errors"] == 0, summary
        check = lt.check(ports, samples)
        assert check["acknowledged_posts"] >= 10 and check["posts_not_acknowledged"] == 0, check
        assert check["lost_edits"] == 0 and check["diverging_workers"] == [], check
        assert check["workers_caught_up"] and check["revision"] == check["acknowledged_posts"], check
        # a second read of an unchanged revision is the same answer from each worker (cached or not)
        a = [lt.get_json(p, "/gaps?category=canteen&limit=1000") for p in ports]
        assert a[0] == a[1]
    finally:
        for s in servers:
            s.stop()
