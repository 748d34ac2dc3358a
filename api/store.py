"""The service's single source of truth, in SQLite (WAL): user-added facilities, hidden base (OSM/sample)
facilities, deleted user facilities (kept, restorable), bulk imports (with their validation reports), the
community layer in use, the audit log of every edit, and the answers of idempotent requests.

Every edit is one ``BEGIN IMMEDIATE`` transaction: it happens whole or not at all, survives a restart,
and appends one row to ``edit_log``. The log's last row number is the store's **revision**: a worker
process compares it with the revision its in-memory plan reflects before answering, and replays what
changed (see :mod:`api.sync`). SQLite lets one writer in at a time across all processes (the others
wait up to :data:`BUSY_TIMEOUT_S`); readers never wait for writers (WAL).

The base facilities come from the region's data at start-up; the database holds only the edits on top,
so hiding an OSM facility never loses it (``deleted_facility`` is a list of hidden ids, restorable).
Scenarios (``scenario``, ``scenario_change``) are lists of proposed changes kept beside the edits; they
never change the register (see :mod:`api.scenarios`). Tables added by later versions are created when an
existing database is opened (``CREATE TABLE IF NOT EXISTS``), new columns by :data:`MIGRATIONS`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

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
CREATE TABLE IF NOT EXISTS deleted_facility (  -- hidden base (OSM / sample) facilities
    facility_id TEXT PRIMARY KEY,
    deleted_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS removed_facility (  -- deleted user facilities, restorable
    facility_id TEXT PRIMARY KEY,
    record      TEXT NOT NULL,                 -- the added_facility row (JSON)
    removed_at  TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS edit_log (          -- the audit log; its last revision is the store's
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,                    -- 'token:<name>' or 'local' (loopback, no tokens set)
    client   TEXT,                             -- client address
    action   TEXT NOT NULL,                    -- add | delete | restore | import | communities
    target   TEXT NOT NULL,                    -- facility id or import id
    before   TEXT,                             -- JSON, null when nothing was there
    after    TEXT                              -- JSON, null when nothing is left
);
CREATE TABLE IF NOT EXISTS store_meta (        -- store_id: names this database (export file keys)
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (       -- first answers of requests sent with an Idempotency-Key
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,                 -- sha256 of the request (method, path, body)
    status      INTEGER NOT NULL,
    response    TEXT NOT NULL,                 -- JSON body
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scenario (          -- named what-if scenarios: changes on top of the register
    scenario_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0     -- bumped by every change and undo of the scenario
);
CREATE TABLE IF NOT EXISTS scenario_change (   -- proposed additions, moves and removals, replayed in order
    change_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    scenario_id TEXT NOT NULL REFERENCES scenario (scenario_id) ON DELETE CASCADE,
    action      TEXT NOT NULL CHECK (action IN ('add', 'move', 'remove')),
    facility_id TEXT NOT NULL,                 -- a register id, or 'p<change_id>' of a proposed one
    category    TEXT NOT NULL,
    lon         REAL CHECK (lon BETWEEN -180 AND 180),  -- WGS84 degrees; null for a removal
    lat         REAL CHECK (lat BETWEEN -90 AND 90),
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scenario_change_by_scenario ON scenario_change (scenario_id, change_id);
"""

#: Columns added to tables of databases made by earlier versions: (table, column, declaration).
MIGRATIONS = (("added_facility", "import_id", "TEXT"),)


def schema_columns() -> dict[str, set[str]]:
    """Every table of :data:`SCHEMA` and its columns (read from an in-memory database made with it)."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(SCHEMA)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in tables if t[:7] != "sqlite_"
        }
    finally:
        con.close()


#: The tables and columns a store must have (a database with a table of the same name but other
#: columns is someone else's: refused at start-up in one line, not a failing query in a worker).
SCHEMA_COLUMNS = schema_columns()
#: How long a writer waits for another process's transaction, seconds.
BUSY_TIMEOUT_S = 30.0
#: How long the first answer of an idempotent request is kept.
IDEMPOTENCY_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Actor:
    """Who makes an edit: ``name`` ('token:<name>' or 'local') and the client's address."""

    name: str
    client: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The edits as committed at ``revision`` (read in one transaction): user facilities in insertion
    order, hidden base ids, the community import in use (None: the configured layer)."""

    revision: int
    added: list[dict[str, Any]]
    hidden: frozenset[str]
    layer: dict[str, Any] | None

    @property
    def layer_id(self) -> str | None:
        return None if self.layer is None else str(self.layer["import_id"])


class FacilityStore:
    """The edit log. One transaction per edit; SQLite runs in WAL mode. A :class:`StoreError` (one
    line) when the file is not a usable SQLite database."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = self._connect()
            try:
                self._check_schema(con, added_later=True)  # before writing anything to someone else's file
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(SCHEMA)
                for table, column, decl in MIGRATIONS:
                    have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                    if column not in have:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                self._check_schema(con)
                con.execute(
                    "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('store_id', ?)",
                    (uuid.uuid4().hex,),
                )
                self.store_id = str(
                    con.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()[0]
                )
            finally:
                con.close()
            # one connection kept for the per-request revision check (a few microseconds)
            self._reader = self._connect(timeout_s=5.0)
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"state database {self.path} is not usable ({e}); move it away or set CIRCLES_STATE_DIR "
                "to another folder"
            ) from None
        except OSError as e:
            raise StoreError(f"state folder {self.path.parent} is not usable: {e.strerror or e}") from None

    def _check_schema(self, con: sqlite3.Connection, *, added_later: bool = False) -> None:
        """A :class:`StoreError` when a table lacks columns of :data:`SCHEMA_COLUMNS` (``added_later``:
        the columns :data:`MIGRATIONS` adds may be missing; a table missing altogether is fine)."""
        later = {(t, c) for t, c, _ in MIGRATIONS} if added_later else set()
        for table, want in SCHEMA_COLUMNS.items():
            have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            missing = {c for c in want - have if (table, c) not in later}
            if have and missing:
                raise StoreError(
                    f"state database {self.path} is not a circles store (table {table} lacks "
                    f"{', '.join(sorted(missing))}); move it away or set CIRCLES_STATE_DIR to another folder"
                )

    def _connect(self, timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=FULL")
        return con

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Wait for this process's and then every process's turn to write: a thread lock, then an
        exclusive lock on ``<database>.lock`` (the kernel queues waiting processes, where SQLite's busy
        wait polls and can starve a process under a steady stream of writes)."""
        with self._lock:
            if fcntl is None:  # pragma: no cover - not POSIX: SQLite's own locking only
                yield
                return
            with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when closed, or when the process dies
                yield

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with store.transaction() as con:`` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error. Only
        one transaction runs at a time across every process on the database."""
        with self._writer_turn():
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

    @contextmanager
    def _reading(self, con: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        """``con`` (inside a transaction), or a new connection in a read transaction of its own."""
        if con is not None:
            yield con
            return
        own = self._connect()
        try:
            own.execute("BEGIN")
            yield own
            own.execute("COMMIT")
        finally:
            own.close()

    def _rows(self, sql: str, params: tuple = (), con: sqlite3.Connection | None = None) -> list[dict]:
        with self._reading(con) as c:
            cur = c.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    # ---------------------------------------------------------------- revision and snapshot
    def revision(self, con: sqlite3.Connection | None = None) -> int:
        """The last edit's revision (0: no edit yet). Cheap: one indexed read."""
        sql = "SELECT COALESCE(MAX(revision), 0) FROM edit_log"
        if con is not None:
            return int(con.execute(sql).fetchone()[0])
        with self._read_lock:
            return int(self._reader.execute(sql).fetchone()[0])

    def snapshot(self, con: sqlite3.Connection | None = None) -> Snapshot:
        """Every edit as committed, read in one transaction (``con``: inside a write transaction)."""
        with self._reading(con) as c:
            rev = self.revision(c)
            added = self._rows("SELECT * FROM added_facility ORDER BY rowid", con=c)
            hidden = frozenset(r[0] for r in c.execute("SELECT facility_id FROM deleted_facility"))
            layer = self.active_communities(c)
        return Snapshot(rev, added, hidden, layer)

    def added(self) -> list[dict]:
        """The user facilities, in the order they were added."""
        return self.snapshot().added

    def deleted(self) -> set[str]:
        """The hidden base facilities' ids."""
        return set(self.snapshot().hidden)

    # ---------------------------------------------------------------- facility edits
    @staticmethod
    def insert_added(con: sqlite3.Connection, record: dict[str, Any]) -> None:
        """Insert one user facility (WGS84 ``lon``/``lat``) inside a transaction; it is no longer in
        the deleted list if a facility of that id was deleted before."""
        con.execute(
            "INSERT INTO added_facility "
            "(facility_id, category, name, floor_area_m2, lon, lat, crs_in, created_at, import_id) "
            "VALUES (:facility_id, :category, :name, :floor_area_m2, :lon, :lat, :crs_in, :created_at, "
            ":import_id)",
            record,
        )
        con.execute("DELETE FROM removed_facility WHERE facility_id = ?", (record["facility_id"],))

    def remove_added(self, con: sqlite3.Connection, facility_id: str) -> dict[str, Any] | None:
        """Delete a user facility, keeping its row restorable; its row, or None when there is none."""
        rows = self._rows("SELECT * FROM added_facility WHERE facility_id = ?", (facility_id,), con)
        if not rows:
            return None
        con.execute("DELETE FROM added_facility WHERE facility_id = ?", (facility_id,))
        con.execute(
            "INSERT OR REPLACE INTO removed_facility (facility_id, record, removed_at) VALUES (?, ?, ?)",
            (facility_id, json.dumps(rows[0], ensure_ascii=False), self.now()),
        )
        return rows[0]

    def hide_base(self, con: sqlite3.Connection, facility_id: str) -> None:
        con.execute(
            "INSERT OR IGNORE INTO deleted_facility (facility_id, deleted_at) VALUES (?, ?)",
            (facility_id, self.now()),
        )

    def removed(self, facility_id: str, con: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        """A deleted user facility's row (restorable), or None."""
        rows = self._rows("SELECT record FROM removed_facility WHERE facility_id = ?", (facility_id,), con)
        return json.loads(rows[0]["record"]) if rows else None

    def deleted_list(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(hidden base ids with ``deleted_at``, deleted user rows with ``deleted_at``), newest first."""
        hidden = self._rows("SELECT facility_id, deleted_at FROM deleted_facility ORDER BY deleted_at DESC")
        removed = [
            {**json.loads(r["record"]), "deleted_at": r["removed_at"]}
            for r in self._rows("SELECT record, removed_at FROM removed_facility ORDER BY removed_at DESC")
        ]
        return hidden, removed

    @staticmethod
    def unhide_base(con: sqlite3.Connection, facility_id: str) -> bool:
        return con.execute("DELETE FROM deleted_facility WHERE facility_id = ?", (facility_id,)).rowcount == 1

    # ---------------------------------------------------------------- audit log
    def log_edit(
        self,
        con: sqlite3.Connection,
        actor: Actor,
        action: str,
        target: str,
        before: Any = None,
        after: Any = None,
        at: str | None = None,
    ) -> int:
        """Append an edit to the audit log (inside its transaction); returns the new revision."""
        cur = con.execute(
            "INSERT INTO edit_log (at, actor, client, action, target, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                at or self.now(),
                actor.name,
                actor.client,
                action,
                target,
                None if before is None else json.dumps(before, ensure_ascii=False, allow_nan=False),
                None if after is None else json.dumps(after, ensure_ascii=False, allow_nan=False),
            ),
        )
        return int(cur.lastrowid or 0)

    def edits(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """How many edits there are, and a page of them, newest first (``before``/``after`` parsed)."""
        total = self._rows("SELECT COUNT(*) AS n FROM edit_log")[0]["n"]
        rows = self._rows("SELECT * FROM edit_log ORDER BY revision DESC LIMIT ? OFFSET ?", (limit, offset))
        for r in rows:
            for k in ("before", "after"):
                r[k] = None if r[k] is None else json.loads(r[k])
        return int(total), rows

    # ---------------------------------------------------------------- idempotency
    def first_answer(
        self, key: str, con: sqlite3.Connection | None = None
    ) -> tuple[str, int, dict[str, Any]] | None:
        """(fingerprint, status, body) of the first request sent with ``key``, or None."""
        rows = self._rows("SELECT fingerprint, status, response FROM idempotency WHERE key = ?", (key,), con)
        if not rows:
            return None
        return rows[0]["fingerprint"], int(rows[0]["status"]), json.loads(rows[0]["response"])

    def remember_answer(
        self, con: sqlite3.Connection, key: str, fingerprint: str, status: int, body: dict[str, Any]
    ) -> None:
        """Keep the answer of a request sent with ``key`` (in the transaction of its write); answers
        older than :data:`IDEMPOTENCY_TTL` are dropped."""
        now = datetime.now(UTC)
        con.execute("DELETE FROM idempotency WHERE created_at < ?", ((now - IDEMPOTENCY_TTL).isoformat(),))
        con.execute(
            "INSERT INTO idempotency (key, fingerprint, status, response, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                key,
                fingerprint,
                status,
                json.dumps(body, ensure_ascii=False, allow_nan=False),
                now.isoformat(),
            ),
        )

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

    def get_import(self, import_id: str, con: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        """The import's row (``report`` parsed), or None."""
        rows = self._rows("SELECT * FROM import_batch WHERE import_id = ?", (import_id,), con)
        return _parsed(rows[0]) if rows else None

    def list_imports(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """How many imports there are, and a page of them, newest first."""
        total = self._rows("SELECT COUNT(*) AS n FROM import_batch")[0]["n"]
        rows = self._rows(
            "SELECT * FROM import_batch ORDER BY created_at DESC, import_id LIMIT ? OFFSET ?", (limit, offset)
        )
        return int(total), [_parsed(r) for r in rows]

    def active_communities(self, con: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        """The applied community import in use (the last activated), or None (the configured layer)."""
        rows = self._rows(
            "SELECT b.* FROM community_layer c JOIN import_batch b USING (import_id) "
            "ORDER BY c.activated_at DESC LIMIT 1",
            con=con,
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
    def activate_communities(con: sqlite3.Connection, import_id: str, at: str) -> None:
        """Make the import's community file the layer in use (inside a transaction)."""
        con.execute(
            "INSERT OR REPLACE INTO community_layer (import_id, activated_at) VALUES (?, ?)", (import_id, at)
        )

    # ---------------------------------------------------------------- scenarios
    def scenario_rows(self, con: sqlite3.Connection | None = None) -> list[dict[str, Any]]:
        """Every scenario's row, oldest first."""
        return self._rows("SELECT * FROM scenario ORDER BY created_at, scenario_id", con=con)

    def scenario(
        self, scenario_id: str, con: sqlite3.Connection | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(row, changes in order) of a scenario, read in one transaction, or None when there is none."""
        with self._reading(con) as c:
            rows = self._rows("SELECT * FROM scenario WHERE scenario_id = ?", (scenario_id,), c)
            if not rows:
                return None
            changes = self._rows(
                "SELECT * FROM scenario_change WHERE scenario_id = ? ORDER BY change_id", (scenario_id,), c
            )
        return rows[0], changes

    def scenario_changes(self, con: sqlite3.Connection | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every scenario's changes in order, by scenario id."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows("SELECT * FROM scenario_change ORDER BY change_id", con=con):
            out.setdefault(str(row["scenario_id"]), []).append(row)
        return out

    @staticmethod
    def insert_scenario(con: sqlite3.Connection, record: dict[str, Any]) -> None:
        """A new scenario (``scenario_id``, ``name``, ``description``, ``created_at``), inside a
        transaction; an :class:`sqlite3.IntegrityError` when the name is taken."""
        con.execute(
            "INSERT INTO scenario (scenario_id, name, description, created_at, revision) "
            "VALUES (:scenario_id, :name, :description, :created_at, 0)",
            record,
        )

    @staticmethod
    def delete_scenario(con: sqlite3.Connection, scenario_id: str) -> bool:
        """Delete a scenario and its changes (inside a transaction); False when there was none."""
        con.execute("DELETE FROM scenario_change WHERE scenario_id = ?", (scenario_id,))
        return con.execute("DELETE FROM scenario WHERE scenario_id = ?", (scenario_id,)).rowcount == 1

    @staticmethod
    def insert_change(con: sqlite3.Connection, record: dict[str, Any]) -> int:
        """Append a change to a scenario and bump its revision (inside a transaction); returns the
        change id. An ``add`` without ``facility_id`` gets ``p<change_id>``."""
        cur = con.execute(
            "INSERT INTO scenario_change (scenario_id, action, facility_id, category, lon, lat, name, "
            "created_at) VALUES (:scenario_id, :action, :facility_id, :category, :lon, :lat, :name, "
            ":created_at)",
            {**record, "facility_id": record.get("facility_id") or ""},
        )
        change_id = int(cur.lastrowid or 0)
        if not record.get("facility_id"):
            con.execute(
                "UPDATE scenario_change SET facility_id = ? WHERE change_id = ?", (f"p{change_id}", change_id)
            )
        con.execute(
            "UPDATE scenario SET revision = revision + 1 WHERE scenario_id = ?", (record["scenario_id"],)
        )
        return change_id

    @staticmethod
    def delete_change(con: sqlite3.Connection, scenario_id: str, change_id: int) -> bool:
        """Undo one change of a scenario and bump its revision (inside a transaction); False when the
        scenario has no such change."""
        cur = con.execute(
            "DELETE FROM scenario_change WHERE scenario_id = ? AND change_id = ?", (scenario_id, change_id)
        )
        if cur.rowcount != 1:
            return False
        con.execute("UPDATE scenario SET revision = revision + 1 WHERE scenario_id = ?", (scenario_id,))
        return True

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="microseconds")


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    row["report"] = json.loads(row["report"])
    row["forced"] = bool(row["forced"])
    return row
