"""ReDoc served with no outside request.

fastapi-offline serves ReDoc's script from the service, but the script itself draws its sidebar logo from
``https://cdn.redoc.ly``. The service therefore serves its own copy of the script with that address pointed
at the local favicon, and its own ``/redoc`` page that loads it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from starlette.responses import HTMLResponse, Response

__all__ = ["REDOC_JS_URL", "add_offline_redoc"]

#: where the patched ReDoc script is served
REDOC_JS_URL = "/docs-assets/redoc.standalone.js"
_STATIC = Path(fastapi_offline.__file__).parent / "static"
_OUTSIDE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_LOCAL_LOGO = "/static-offline-docs/favicon.png"


@lru_cache(maxsize=1)
def redoc_script() -> bytes:
    """fastapi-offline's ReDoc script with its CDN logo replaced by the service's favicon."""
    text = (_STATIC / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(_OUTSIDE_LOGO, _LOCAL_LOGO).encode("utf-8")


def add_offline_redoc(app: FastAPI, redoc_url: str = "/redoc") -> None:
    """Register ``redoc_url`` (the page) and :data:`REDOC_JS_URL` (its script) on ``app``; the app must be
    created with ``redoc_url=None`` so this page is the only one."""

    @app.get(REDOC_JS_URL, include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(redoc_script(), media_type="application/javascript")

    @app.get(redoc_url, include_in_schema=False)
    async def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC_JS_URL}",
            with_google_fonts=False,
            redoc_favicon_url=f"{root}{_LOCAL_LOGO}",
        )
