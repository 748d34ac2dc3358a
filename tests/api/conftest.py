"""API fixtures: a service on the default region with its own state directory, and a service on a
planner's own data (communities with 社区/街道 columns and households; a GCJ-02 canteen register)."""

from __future__ import annotations

import pytest
from api_files import USER_CANTEENS, USER_COMMUNITIES, box, feature_collection, gcj02_register
from fastapi.testclient import TestClient

from api import create_app
from api.settings import Settings


@pytest.fixture(scope="module")
def client(chengdu_osm, tmp_path_factory):
    settings = Settings(state_dir=tmp_path_factory.mktemp("service"))
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def fresh_settings(chengdu_osm, tmp_path):
    return Settings(state_dir=tmp_path / "service")


@pytest.fixture(scope="session")
def user_files(chengdu_osm, tmp_path_factory):
    """(communities GeoJSON, canteen register CSV in GCJ-02) of a planner."""
    folder = tmp_path_factory.mktemp("user_data")
    communities = folder / "社区.geojson"
    communities.write_text(
        feature_collection(
            (
                {
                    "编号": cid,
                    "名称": name,
                    "社区": shequ,
                    "街道": street,
                    "区": "成华区",
                    "户数": households,
                },
                box(104.075 + (i % 3) * 0.0025, 30.686 + (i // 3) * 0.0025),
            )
            for i, (cid, name, shequ, street, households) in enumerate(USER_COMMUNITIES)
        ),
        encoding="utf-8",
    )
    register = folder / "食堂台账.csv"
    register.write_text(
        gcj02_register([(n, "社区食堂", x, y) for n, x, y in USER_CANTEENS]), encoding="utf-8"
    )
    return communities, register


def user_settings(user_files, state_dir, **more):
    communities, register = user_files
    return Settings(
        state_dir=state_dir, communities=str(communities), facilities=[f"{register}:gcj02"], **more
    )


@pytest.fixture(scope="module")
def user_client(user_files, tmp_path_factory):
    """A service started on the planner's own communities and canteen register (never edited)."""
    with TestClient(create_app(user_settings(user_files, tmp_path_factory.mktemp("user_service")))) as c:
        yield c


@pytest.fixture
def fresh_user_settings(user_files, tmp_path):
    return user_settings(user_files, tmp_path / "service")


@pytest.fixture(scope="session")
def base_plan(chengdu_osm):
    """The default region's plan as the service makes it (no edits), built once and shared by service
    states of several tests (a result is never changed; edits make new ones)."""
    from circles.pipeline import plan

    return plan(Settings().plan_options())


def service(settings, base_plan, **client_options):
    """A TestClient on a service state built on ``base_plan`` (no planning: ~0.1 s)."""
    from api.state import ServiceState

    return TestClient(create_app(state=ServiceState(settings, base=base_plan)), **client_options)
