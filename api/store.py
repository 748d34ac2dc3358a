"""Durable facility edits in SQLite: user-added facilities and deletions of base (OSM/sample) ones.

Every edit is one transaction: it happens whole or not at all and survives a restart. The base
facilities come from the region's data at start-up; the database holds only the edits on top.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS added_facility (
    facility_id   TEXT PRIMARY KEY,
    category      TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    floor_area_m2 REAL,
    lon           REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),  -- WGS84 degrees, after conversion
    lat           REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    crs_in        TEXT NOT NULL,                                   -- coordinate system the client sent
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deleted_facility (
    facility_id TEXT PRIMARY KEY,
    deleted_at  TEXT NOT NULL
);
"""


class FacilityStore:
    """The edit log. Writes are serialised by a lock; SQLite runs in WAL mode."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=FULL")
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with store.transaction() as con:`` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error."""
        with self._lock:
            con = self._connect()
            try:
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()

    def added(self) -> list[dict]:
        con = self._connect()
        try:
            con.row_factory = sqlite3.Row
            return [
                dict(r) for r in con.execute("SELECT * FROM added_facility ORDER BY created_at, facility_id")
            ]
        finally:
            con.close()

    def deleted(self) -> set[str]:
        con = self._connect()
        try:
            return {r[0] for r in con.execute("SELECT facility_id FROM deleted_facility")}
        finally:
            con.close()

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="microseconds")
