"""Strict JSON request bodies: numbers must be finite, text must be valid Unicode.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``1e999`` (as a float infinity) and lone surrogate
escapes (``"\\ud800"``, which cannot be written as UTF-8); none of them is JSON a client can mean. Routes
of :class:`StrictJSONRoute` read bodies with :func:`strict_loads`, so such a body is a 422 naming the
problem (FastAPI's ``json_invalid`` error), never a value that fails later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range (finite numbers only)")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows (finite numbers only)")


def _check_text(value: Any) -> None:
    """Every string (and key) of a parsed document encodes as UTF-8 (no lone surrogates)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                shown = v.encode("utf-8", "backslashreplace").decode("ascii", "replace")[:60]
                raise ValueError(f'text "{shown}" holds a lone surrogate (invalid Unicode)') from None
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def strict_loads(body: bytes | str) -> Any:
    """Parse a JSON body (UTF-8); a :class:`json.JSONDecodeError` for invalid JSON, non-finite numbers
    (``NaN``, ``Infinity``, ``1e999``) and lone surrogates."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as e:
        raise json.JSONDecodeError(f"body is not UTF-8 ({e.reason} at byte {e.start})", "", 0) from None
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_constant)
        _check_text(value)
    except json.JSONDecodeError:
        raise
    except ValueError as e:  # also the int digit limit
        raise json.JSONDecodeError(str(e), "", 0) from None
    return value


class StrictJSONRequest(Request):
    """A request whose :meth:`json` is :func:`strict_loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An API route reading JSON bodies with :func:`strict_loads` (``APIRouter(route_class=...)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
