"""A commit's worth of journal rows, and writing one in a single SQLite transaction."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK

log = logging.getLogger(__name__)

EventRow = tuple[int, str, str, str | None, int | None, bytes]
"""(seq, session, kind, participant, cid, payload)"""

UPSERT_SESSION = (
    "INSERT INTO sessions (id, venue, venue_preset, host_key_hash) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET"
    " venue_preset = coalesce(excluded.venue_preset, venue_preset),"
    " host_key_hash = coalesce(excluded.host_key_hash, host_key_hash)"
)
UPSERT_MEMBER = (
    "INSERT INTO members (session, pid, name, role, token_hash) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (session, pid) DO UPDATE SET"
    " name = excluded.name, role = excluded.role, token_hash = excluded.token_hash, left = 0"
)
MEMBER_LEFT = "UPDATE members SET left = 1 WHERE session = ? AND pid = ?"
UPSERT_PAIRING = (
    "INSERT INTO pairings (session, device_id, pid) VALUES (?, ?, ?)"
    " ON CONFLICT (session, device_id) DO UPDATE SET pid = excluded.pid"
)
_INSERT_EVENT = (
    "INSERT INTO events (seq, session, kind, participant, cid, payload) VALUES (?, ?, ?, ?, ?, ?)"
)
_RAISE_LAST_CID = "UPDATE members SET last_cid = max(last_cid, ?) WHERE session = ? AND pid = ?"
_INSERT_SNAPSHOT = (
    "INSERT OR REPLACE INTO snapshots (session, upto, engine, encoding) VALUES (?, ?, ?, ?)"
)
_PRUNE_SNAPSHOTS = (
    "DELETE FROM snapshots WHERE session = ? AND upto NOT IN"
    " (SELECT upto FROM snapshots WHERE session = ? ORDER BY upto DESC LIMIT ?)"
)


@dataclass(slots=True)
class Batch:
    """What one commit writes: row upserts (in call order), events, snapshots."""

    rows: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    snapshots: list[tuple[str, int, bytes]] = field(default_factory=list)  # msgpack, all

    def __bool__(self) -> bool:
        return bool(self.rows or self.events or self.snapshots)

    def then(self, later: Batch) -> Batch:
        """This batch followed by a later one (to retry a failed commit with what came after)."""
        return Batch(
            self.rows + later.rows, self.events + later.events, self.snapshots + later.snapshots
        )

    def payload_bytes(self) -> int:
        return sum(len(e[5]) for e in self.events) + sum(len(s[2]) for s in self.snapshots)


def _last_cids(events: list[EventRow]) -> list[tuple[int, str, str]]:
    """(cid, session, participant): the highest cid of each participant among ``events``."""
    highest: dict[tuple[str, str], int] = {}
    for _, session, _, participant, cid, _ in events:
        if cid is not None and participant is not None:
            key = (session, participant)
            if cid > highest.get(key, -1):
                highest[key] = cid
    return [(cid, session, participant) for (session, participant), cid in highest.items()]


def _runs(rows: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The rows as runs of one statement each, in call order: one ``executemany`` per run
    (a second of every sleeper's signals is one call, not one per sleeper)."""
    runs: list[tuple[str, list[tuple[Any, ...]]]] = []
    for sql, params in rows:
        if runs and runs[-1][0] == sql:
            runs[-1][1].append(params)
        else:
            runs.append((sql, [params]))
    return runs


def write_batch(conn: sqlite3.Connection, batch: Batch, *, keep_snapshots: int) -> None:
    """Write the batch in ONE transaction (durable when this returns, with
    ``synchronous=FULL``), keeping the latest ``keep_snapshots`` snapshots per session.
    On any error the transaction is rolled back and the error raised."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in _runs(batch.rows):
            conn.executemany(sql, params)
        if batch.events:
            conn.executemany(_INSERT_EVENT, batch.events)
            conn.executemany(_RAISE_LAST_CID, _last_cids(batch.events))
        if batch.snapshots:
            conn.executemany(
                _INSERT_SNAPSHOT, [(*snapshot, SNAPSHOT_MSGPACK) for snapshot in batch.snapshots]
            )
            for session in sorted({s[0] for s in batch.snapshots}):
                conn.execute(_PRUNE_SNAPSHOTS, (session, session, keep_snapshots))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("journal rollback failed")
        raise
