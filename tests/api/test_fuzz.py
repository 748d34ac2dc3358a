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
def fuzz_app(chengdu_osm, tmp_path_factory):
    return create_app(state=ServiceState(Settings(state_dir=tmp_path_factory.mktemp("fuzz"))))


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


#: Rejections of schema-valid requests (schemathesis ST202) that no schema can rule out, by status and
#: operation ("*": any operation): validity that depends on the data or the state, or a rule across fields.
DATA_DEPENDENT: dict[int, dict[str, str]] = {
    404: {"*": "an id or scenario that does not exist (ids are data)"},
    409: {"*": "the state forbids it (restored id in use, import applied already)"},
    422: {
        "POST /facilities": "a point in the schema's box (widened for GCJ-02/BD-09 input) outside the region "
        "in WGS84, or farther than the snap distance from a street",
        "GET /isochrones": "a point farther than the snap distance from a street",
        "POST /imports/facilities": "a file's name and content",
        "POST /imports/communities": "a file's name and content",
        "POST /imports/{import_id}/apply": "an Idempotency-Key first used with another import",
        "POST /scenarios/{scenario_id}/facilities": "a category or facility the data does not have",
        "GET /gaps": "min_residents on an area-weighted region; kind=capacity with group_by (across fields)",
        "GET /coverage": "min_residents on an area-weighted region (the data's weighting)",
        "GET /sites": "a crs that names no known system or EPSG code (the codes are pyproj's data; names "
        "are case-insensitive: a schema `pattern` could still narrow it), or one in degrees for DXF (across "
        "fields)",
        "GET /scenarios/compare": "a category the plan does not cover",
        "GET /scenarios/{scenario_id}/delta": "a category the plan does not cover",
    },
}


#: The 422 of a write whose Idempotency-Key was first sent with another request (the store's state: the
#: generated cases reuse keys), on every route that takes the header.
KEY_REUSED = b"was first used with a different request"


def accepts_valid_data(label: str, status: int, content: bytes) -> None:
    """ST202: a schema-valid request is not rejected, unless :data:`DATA_DEPENDENT` says why it may be."""
    if status < 400 or (status == 422 and KEY_REUSED in content):
        return
    allowed = DATA_DEPENDENT.get(status, {})
    assert "*" in allowed or label in allowed, (label, status, content[:300].decode("utf-8", "replace"))


def _fuzz_operation(op):
    """20 generated requests to one operation (5 to the heavy ones): none fails, every answer keeps its
    documented schema (HTML maps are large: only checked for server errors), and schema-valid requests
    are accepted where the data allows (ST202)."""
    checks = [not_a_server_error] + ([response_schema_conformance] if not op.path.endswith(".html") else [])
    label = f"{op.method.upper()} {op.path}"

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
        accepts_valid_data(label, response.status_code, response.content)

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


def test_a_method_a_path_lacks_is_a_405_naming_every_method_of_the_path(fuzz_app):
    """ST205: ``Allow`` lists the methods the schema declares for the path, from every route of it (not
    only the first Starlette matched: ``PUT /facilities`` said ``Allow: GET``)."""
    from fastapi.testclient import TestClient

    doc = fuzz_app.openapi()
    with TestClient(fuzz_app) as c:
        for template, item in doc["paths"].items():
            path = template
            for param in {p["name"]: p for op in item.values() for p in op.get("parameters", [])}.values():
                if param["in"] == "path":
                    path = path.replace("{" + param["name"] + "}", "1" if "integer" in str(param) else "x1")
            r = c.options(path)
            assert r.status_code == 405, (path, r.status_code)
            allowed = {m.strip() for m in r.headers["allow"].split(",")}
            declared = {m.upper() for m in item}
            assert declared <= allowed, (path, allowed, declared)
            # any other method comes from another route of the same concrete path
            others = {
                m.upper()
                for t, i in doc["paths"].items()
                if t != template and t.count("/") == template.count("/") and "{" in t
                for m in i
            }
            assert allowed - declared <= others, (path, allowed, declared)
        r = c.put("/facilities")
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        assert r.json() == {"detail": "Method Not Allowed"}
        assert c.options("/no-such-path").status_code == 404


@pytest.mark.parametrize(
    ("minutes", "valid"),
    [
        ("5,10,15", True),
        (" 0.5 , 180", True),
        ("07", True),
        ("179.99", True),
        ("", False),
        ("0", False),
        ("0.0", False),
        ("180.01", False),
        ("181", False),
        ("5,,10", False),
        ("1e1", False),
        ("5;10", False),
    ],
)
def test_isochrone_minutes_pattern_agrees_with_the_answer(fuzz_app, minutes, valid):
    """``minutes`` has a ``pattern``: what it allows is answered (200), what it refuses is a 422 from
    the request's validation (``minutes=''`` passed the schema and was refused by the handler)."""
    import re

    from fastapi.testclient import TestClient

    doc = fuzz_app.openapi()
    (param,) = [p for p in doc["paths"]["/isochrones"]["get"]["parameters"] if p["name"] == "minutes"]
    assert bool(re.search(param["schema"]["pattern"], minutes)) is valid
    with TestClient(fuzz_app) as c:
        r = c.get("/isochrones", params={"lon": 104.0657, "lat": 30.6598, "minutes": minutes})
    assert r.status_code == (200 if valid else 422), r.text
    if not valid:
        assert r.json()["detail"][0]["loc"] == ["query", "minutes"]
