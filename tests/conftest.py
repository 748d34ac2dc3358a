"""Shared fixtures: small synthetic street grids with answers worked out by hand, and the real extract."""

from __future__ import annotations

from pathlib import Path

import pytest

from circles.config import get_profile, get_region
from circles.routing.graph import ProfileGraph

from grids import X0, Y0, grid_network, node  # noqa: F401  (re-exported for fixtures)


@pytest.fixture
def walk():
    return get_profile("walk")


@pytest.fixture
def grid_graph(walk):
    """A 21x21 grid of 100 m blocks (2 km square), walking at 1.1 m/s."""
    return ProfileGraph(grid_network(21, 21), walk)


@pytest.fixture(scope="session")
def chengdu_osm() -> Path:
    path = get_region("chengdu-central").osm_path
    if not path.exists():
        pytest.skip(f"real extract not found at {path}")
    return path


@pytest.fixture(scope="session")
def chengdu_net(chengdu_osm):
    from circles.routing.load import region_network

    return region_network(get_region("chengdu-central"))


@pytest.fixture(scope="session")
def default_plan_result(chengdu_osm):
    """The plan of the default region with its own data (OSM + sample facilities), built once per session.
    Tests must not modify it."""
    from circles.pipeline import PlanOptions, plan

    return plan(PlanOptions())
