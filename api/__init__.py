"""The circles HTTP service (FastAPI): coverage layers, gap queries, isochrones and facility edits."""

from .main import create_app

__all__ = ["create_app"]
