"""The OpenAPI document says what the service accepts, as exactly as JSON Schema can.

Some rules depend on the loaded data or the settings, so they are filled in when the document is
first asked for: the facility categories (every accepted spelling: key, Chinese and English name,
aliases), the districts of the plan, the region of ``/maps``, the largest page (``max_page``). Every
error answer is documented as ``application/json`` also on routes whose success is GeoJSON or HTML.
What no schema can say (a point farther than the snap distance from any street, a file's content)
stays a 422 with a ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from circles.planning.queries import districts_in

from .settings import Settings
from .state import ServiceState

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorOut"}


def category_names(state: ServiceState) -> list[str]:
    """Every spelling of a category the service accepts as written (keys first)."""
    cats = state.result.data.catalog.categories
    names = [c.key for c in cats]
    for c in cats:
        names += [c.name_zh, c.name_en, *c.aliases]
    return list(dict.fromkeys(n for n in names if n))


def _with_enum(schema: dict[str, Any], values: list[str]) -> None:
    """Restrict a string schema (or the string branch of ``anyOf [string, null]``) to ``values``."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["enum"] = values
            branch.pop("maxLength", None)


def _parameters(doc: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            for param in op.get("parameters", []):
                yield path, param


def tighten(doc: dict[str, Any], state: ServiceState | None, settings: Settings) -> dict[str, Any]:
    """``doc`` with the data-dependent rules filled in (see the module docstring)."""
    for op in (op for item in doc.get("paths", {}).values() for op in item.values()):
        for code, response in op.get("responses", {}).items():
            if code[:1] in ("4", "5") and "content" in response:
                response["content"].setdefault("application/json", {"schema": ERROR_SCHEMA})
    for path, param in _parameters(doc):
        schema = param.get("schema", {})
        if param["name"] == "limit" and param["in"] == "query":
            schema["maximum"] = settings.max_page
        if state is None:
            continue
        if param["name"] == "category":
            _with_enum(schema, category_names(state))
        elif param["name"] == "district":
            _with_enum(schema, districts_in(state.result) or [""])
        elif param["name"] == "region" and path.startswith("/maps/"):
            _with_enum(schema, [state.result.data.region.key])
        elif param["name"] in ("lon", "lat") and path == "/isochrones":
            _bounds(schema, state, param["name"], 0.0)
    if state is not None:
        body = doc.get("components", {}).get("schemas", {}).get("FacilityIn", {}).get("properties", {})
        if body:
            _with_enum(body["category"], category_names(state))
            for axis in ("lon", "lat"):  # GCJ-02 / BD-09 lie within ~1 km of WGS84 here
                _bounds(body[axis], state, axis, CRS_MARGIN_DEG)
    return doc


#: Degrees around the region's box accepted for coordinates in other coordinate systems than WGS84.
CRS_MARGIN_DEG = 0.02


def _bounds(schema: dict[str, Any], state: ServiceState, axis: str, margin: float) -> None:
    """Restrict a number schema to the region's box (WGS84 degrees, widened by ``margin``)."""
    x0, y0, x1, y1 = state.result.data.region.bbox
    lo, hi = (x0, x1) if axis == "lon" else (y0, y1)
    schema["minimum"], schema["maximum"] = round(lo - margin, 6), round(hi + margin, 6)


def install(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` return the tightened document (built once, after the data is loaded)."""
    default: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or not getattr(app.state, "openapi_tightened", False):
            app.openapi_schema = None
            state = getattr(app.state, "service", None)
            app.openapi_schema = tighten(default(), state, settings)
            app.state.openapi_tightened = state is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
