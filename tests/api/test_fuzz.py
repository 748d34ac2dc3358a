"""Property-based run of schemathesis against the OpenAPI schema: no request makes the service fail.

Operations are driven through hypothesis directly (schemathesis' pytest plugin does not support this
pytest version yet)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from api import create_app
from api.settings import Settings
from api.state import ServiceState


@pytest.fixture(scope="module")
def api_schema(chengdu_osm, tmp_path_factory):
    state = ServiceState(Settings(state_dir=tmp_path_factory.mktemp("fuzz")))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(state=state))


def _fuzz_operation(op):
    """20 generated requests to one operation (5 to the heavy ones): none fails, and every answer keeps
    its documented schema (HTML maps are large: only checked for server errors)."""
    checks = [not_a_server_error] + ([response_schema_conformance] if not op.path.endswith(".html") else [])

    heavy = op.path.startswith(("/maps/", "/sites"))  # a map or a site search per valid case: a few do

    @given(case=op.as_strategy())
    @settings(
        max_examples=5 if heavy else 20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same cases every run (the schema names real categories and districts)
    )
    def run(case):
        response = case.call()
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            case.query,
            response.text[:300],
        )
        case.validate_response(response, checks=checks)

    run()


def test_every_operation_without_server_errors(api_schema):
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 9
    seen = []
    for op in operations:
        _fuzz_operation(op)
        seen.append(f"{op.method.upper()} {op.path}")
    assert "POST /facilities" in seen and "GET /gaps" in seen
    assert {
        "POST /imports/facilities",
        "POST /imports/communities",
        "POST /imports/{import_id}/apply",
    } <= set(seen)
    assert "GET /communities/{id_or_name}" in seen
