"""The journal's SQLite schema and how to open a connection to it.

One file per server. ``events.seq`` is the journal position: global, assigned by the writer,
strictly increasing in the order the engines consumed the events. A snapshot names the
position of the last event it includes (``upto``), so recovery loads it and replays only
``seq > upto``. Members keep a sha256 of their resume token, never the token.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dreamcommons.server.journal.errors import JournalCorrupt, JournalUnavailable

SCHEMA_VERSION = 1

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
CREATE INDEX IF NOT EXISTS events_by_participant
    ON events (session, participant, cid) WHERE participant IS NOT NULL;

CREATE TABLE IF NOT EXISTS snapshots (
    session TEXT NOT NULL,
    upto    INTEGER NOT NULL,        -- seq of the last event the engine had consumed
    engine  BLOB NOT NULL,           -- pickle (protocol 5) of the DreamEngine
    PRIMARY KEY (session, upto)
) WITHOUT ROWID;
"""


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
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(f"{path}: not a dreamcommons journal ({exc})") from None
    if row is None and create:
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        return
    if row is None or row[0] != str(SCHEMA_VERSION):
        found = "none" if row is None else row[0]
        raise JournalCorrupt(
            f"{path}: journal schema version {found}, this server reads {SCHEMA_VERSION}"
        )
