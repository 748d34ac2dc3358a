"""The circles HTTP service (FastAPI): coverage layers, gap queries, isochrones and facility edits.

Several worker processes may share one state folder (see ``api/README.md``)."""

from .main import create_app, run_server

__all__ = ["create_app", "run_server"]
