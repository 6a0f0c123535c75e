"""The journal's SQLite schema and how to open a connection to it.

One file per server. ``events.seq`` is the journal position: global, assigned by the writer,
strictly increasing in the order the engines consumed the events. A snapshot names the
position of the last event it includes (``upto``), so recovery loads it and replays only
``seq > upto``; a snapshot only shortens recovery, the events stay (see ``snapshots``).
Members keep a sha256 of their resume token, never the token, and the highest cid of theirs
that was journaled (``last_cid``, written in the commit that writes the event). ``signals``
holds each paired sleeper's readings at 1 Hz, their own data (see ``signals``); nothing
replays them.

``meta.schema`` is the schema's version. A writer brings an older journal up to date when it
opens it (``_MIGRATIONS``, in one transaction); a reader (replay, export) reads an older
journal as it is, since nothing it reads has changed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from dreamcommons.server.journal.errors import JournalCorrupt, JournalUnavailable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4

SNAPSHOT_MSGPACK = "msgpack"
"""``snapshots.encoding`` of the snapshots written now: msgpack of ``engine.snapshot``'s data."""
SNAPSHOT_PICKLE = "pickle"
"""``snapshots.encoding`` of the snapshots written before schema 2: pickles, never loaded."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sessions (
    id            TEXT PRIMARY KEY,
    venue         TEXT NOT NULL,     -- the preset's name
    venue_preset  TEXT,              -- the preset itself (JSON), so replay needs no seeds/
    host_key_hash TEXT
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS members (
    session    TEXT NOT NULL,
    pid        TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL,        -- sha256 hex of the resume token
    left       INTEGER NOT NULL DEFAULT 0,
    last_cid   INTEGER NOT NULL DEFAULT -1, -- their highest contribution/whisper cid journaled
    PRIMARY KEY (session, pid)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS pairings (
    session   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    pid       TEXT NOT NULL,
    PRIMARY KEY (session, device_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY, -- the journal position
    session     TEXT NOT NULL,
    kind        TEXT NOT NULL,       -- the event's class name (codec.kind_of)
    participant TEXT,                -- whose event (NULL for ticks and host commands)
    cid         INTEGER,             -- contributions and whispers only
    payload     BLOB NOT NULL        -- msgpack map of the event's fields
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (session);

CREATE TABLE IF NOT EXISTS snapshots (
    session  TEXT NOT NULL,
    upto     INTEGER NOT NULL,       -- seq of the last event the engine had consumed
    engine   BLOB NOT NULL,          -- the engine's state, encoded as ``encoding`` says
    encoding TEXT NOT NULL DEFAULT 'pickle', -- 'msgpack' (format inside); the default marks
                                             -- the rows written before schema 2
    PRIMARY KEY (session, upto)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS signals (
    session     TEXT NOT NULL,
    participant TEXT NOT NULL,
    t           REAL NOT NULL,       -- session time of the second's start
    wall        REAL NOT NULL,       -- its wall-clock time, Unix seconds (UTC)
    readings    BLOB NOT NULL,       -- msgpack map: reading -> the second's value
    PRIMARY KEY (session, participant, t)
) WITHOUT ROWID;
"""

# From each version, the statements that bring a journal to the next one.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: snapshots say their encoding; the ones already there are pickles of the engine.
    1: ("ALTER TABLE snapshots ADD COLUMN encoding TEXT NOT NULL DEFAULT 'pickle'",),
    # 3: the sleepers' signals; SCHEMA has created the table already (IF NOT EXISTS).
    2: (),
    # 4: each member's last cid is kept with the member, no longer looked up through an
    # index of every event by participant (whose random inserts cost more than the rest of a
    # commit once a night has grown).
    3: (
        "ALTER TABLE members ADD COLUMN last_cid INTEGER NOT NULL DEFAULT -1",
        "UPDATE members SET last_cid = coalesce((SELECT MAX(cid) FROM events"
        " WHERE events.session = members.session AND events.participant = members.pid), -1)",
        "DROP INDEX IF EXISTS events_by_participant",
    ),
}


def connect_writer(path: Path) -> sqlite3.Connection:
    """The one read-write connection: WAL, ``synchronous=FULL`` (a commit is on disk when it
    returns), transactions begun explicitly. Creates the file and the schema if needed."""
    conn = _connect(str(path), uri=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalUnavailable(f"{path}: SQLite refused WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        _check_version(conn, path, create=True)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection, for replay and export (safe next to a running writer)."""
    if not path.is_file():
        raise JournalUnavailable(f"no journal at {path}")
    conn = _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _check_version(conn, path, create=False)
    except BaseException:
        conn.close()
        raise
    return conn


def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    # check_same_thread stays on: each connection lives in one thread (the journal's worker).
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _check_version(conn: sqlite3.Connection, path: Path, *, create: bool) -> None:
    """Check that this server reads the journal; a writer (``create``) upgrades an older one."""
    found = _version(conn, path)
    if found is None and create:
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        return
    if found is None or not 1 <= found <= SCHEMA_VERSION:
        shown = "none" if found is None else found
        raise JournalCorrupt(
            f"{path}: journal schema version {shown}, this server reads 1 to {SCHEMA_VERSION}"
        )
    if found < SCHEMA_VERSION and create:
        _migrate(conn, path)


def _version(conn: sqlite3.Connection, path: Path) -> int | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(f"{path}: not a dreamcommons journal ({exc})") from None
    if row is None:
        return None
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise JournalCorrupt(f"{path}: journal schema version {row[0]!r} unknown") from None


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the journal to ``SCHEMA_VERSION`` in one transaction (all of it or none)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _version(conn, path)  # again, now that no other writer can change it
        version = SCHEMA_VERSION if found is None else found
        if version > SCHEMA_VERSION:
            raise JournalCorrupt(
                f"{path}: journal schema version {version}, this server reads 1 to {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if version < SCHEMA_VERSION:
        log.info("journal %s: schema upgraded from version %d to %d", path, version, SCHEMA_VERSION)
