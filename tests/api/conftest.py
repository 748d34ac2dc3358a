"""API fixtures: a service on the default region with its own state directory."""

from __future__ import annotations

import pytest
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
