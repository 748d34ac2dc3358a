"""Durable edits in SQLite: user-added facilities, deletions of base (OSM/sample) ones, bulk imports
(with their validation reports) and the community layer in use.

Every edit is one transaction: it happens whole or not at all and survives a restart. The base
facilities come from the region's data at start-up; the database holds only the edits on top. An
import is recorded at its dry run (``applied_at`` empty); applying it inserts its facilities (or
activates its community file) and stamps ``applied_at`` in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS added_facility (
    facility_id   TEXT PRIMARY KEY,
    category      TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    floor_area_m2 REAL,
    lon           REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),  -- WGS84 degrees, after conversion
    lat           REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    crs_in        TEXT NOT NULL,                                   -- coordinate system the client sent
    created_at    TEXT NOT NULL,
    import_id     TEXT                                             -- the bulk import it came with, if any
);
CREATE TABLE IF NOT EXISTS deleted_facility (
    facility_id TEXT PRIMARY KEY,
    deleted_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS import_batch (
    import_id   TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('facilities', 'communities')),
    file_name   TEXT NOT NULL,        -- as uploaded
    stored_path TEXT NOT NULL,        -- relative to the state directory
    crs         TEXT,                 -- coordinate system declared with the upload
    part        TEXT,                 -- sheet or layer
    report      TEXT NOT NULL,        -- the dry run's validation report (JSON)
    created_at  TEXT NOT NULL,
    applied_at  TEXT,
    forced      INTEGER NOT NULL DEFAULT 0  -- applied despite a refused coordinate check
);
CREATE TABLE IF NOT EXISTS community_layer (
    import_id    TEXT PRIMARY KEY REFERENCES import_batch (import_id),
    activated_at TEXT NOT NULL
);
"""

#: Columns added to tables of databases made by earlier versions: (table, column, declaration).
MIGRATIONS = (("added_facility", "import_id", "TEXT"),)


class FacilityStore:
    """The edit log. Writes are serialised by a lock; SQLite runs in WAL mode."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            for table, column, decl in MIGRATIONS:
                have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

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

    def _rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        con = self._connect()
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    # ---------------------------------------------------------------- imports
    def record_import(self, record: dict[str, Any]) -> None:
        """Record a dry run (``import_id``, ``kind``, ``file_name``, ``stored_path``, ``crs``, ``part``,
        ``report`` as JSON-ready dict, ``created_at``)."""
        with self.transaction() as con:
            con.execute(
                "INSERT INTO import_batch "
                "(import_id, kind, file_name, stored_path, crs, part, report, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["import_id"],
                    record["kind"],
                    record["file_name"],
                    record["stored_path"],
                    record["crs"],
                    record["part"],
                    json.dumps(record["report"], ensure_ascii=False, allow_nan=False),
                    record["created_at"],
                ),
            )

    def get_import(self, import_id: str) -> dict[str, Any] | None:
        """The import's row (``report`` parsed), or None."""
        rows = self._rows("SELECT * FROM import_batch WHERE import_id = ?", (import_id,))
        return _parsed(rows[0]) if rows else None

    def list_imports(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """How many imports there are, and a page of them, newest first."""
        total = self._rows("SELECT COUNT(*) AS n FROM import_batch")[0]["n"]
        rows = self._rows(
            "SELECT * FROM import_batch ORDER BY created_at DESC, import_id LIMIT ? OFFSET ?", (limit, offset)
        )
        return int(total), [_parsed(r) for r in rows]

    def active_communities(self) -> dict[str, Any] | None:
        """The applied community import in use (the last activated), or None (the configured layer)."""
        rows = self._rows(
            "SELECT b.* FROM community_layer c JOIN import_batch b USING (import_id) "
            "ORDER BY c.activated_at DESC LIMIT 1"
        )
        return _parsed(rows[0]) if rows else None

    @staticmethod
    def mark_applied(con: sqlite3.Connection, import_id: str, forced: bool, at: str) -> bool:
        """Stamp the import applied (inside a transaction); False when it already was."""
        cur = con.execute(
            "UPDATE import_batch SET applied_at = ?, forced = ? WHERE import_id = ? AND applied_at IS NULL",
            (at, int(forced), import_id),
        )
        return cur.rowcount == 1

    @staticmethod
    def insert_added(con: sqlite3.Connection, record: dict[str, Any]) -> None:
        """Insert one user facility (WGS84 ``lon``/``lat``) inside a transaction."""
        con.execute(
            "INSERT INTO added_facility "
            "(facility_id, category, name, floor_area_m2, lon, lat, crs_in, created_at, import_id) "
            "VALUES (:facility_id, :category, :name, :floor_area_m2, :lon, :lat, :crs_in, :created_at, "
            ":import_id)",
            record,
        )

    @staticmethod
    def activate_communities(con: sqlite3.Connection, import_id: str, at: str) -> None:
        """Make the import's community file the layer in use (inside a transaction)."""
        con.execute(
            "INSERT OR REPLACE INTO community_layer (import_id, activated_at) VALUES (?, ?)", (import_id, at)
        )

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    row["report"] = json.loads(row["report"])
    row["forced"] = bool(row["forced"])
    return row
