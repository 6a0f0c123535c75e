"""Erasing a participant from a journal, at their request.

Semantics (tombstones): each of their ``MotifContributed``, ``Whispered`` and
``SleeperUpdated`` events keeps its position but becomes ``Erased(participant, kind)``, which
replay skips; their signals (the 1 Hz readings of ``signals``) are deleted; every snapshot
of their session taken at or after their first erased event is deleted (those engines hold
what they contributed), so recovery starts from an earlier
snapshot or from the start and replays the tombstoned tail. Positions never move, so the
snapshots that remain stay valid. Kept: that they joined (id, display name, role), presence,
share and device counts, and the ``cid`` column (a number, for de-duplicating resends).
The file is then vacuumed (rewritten without free pages, which could still hold old copies,
in pruned snapshots for instance) and its write-ahead log truncated, so the erased content
does not linger in the files (it costs a rewrite of the file: seconds for 1M events). Their
events are found by reading the session's (no index keeps every event by participant: it
would cost each commit more than the rest of it), which costs less than that rewrite.

Erasure is refused (``JournalInUse``) while a live server has the journal open: a running
session still holds the participant's dream in memory and would snapshot it again. The
server's ``Journal`` holds a shared lock (``lock``) that erasure takes exclusively; a server
starting meanwhile is refused in turn until the erasure is done.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from dreamcommons.server.journal.codec import Erased, encode_event
from dreamcommons.server.journal.errors import JournalUnavailable
from dreamcommons.server.journal.lock import JournalLock
from dreamcommons.server.journal.reading import find_session
from dreamcommons.server.journal.schema import connect_writer

log = logging.getLogger(__name__)

ERASED_KINDS = ("MotifContributed", "Whispered", "SleeperUpdated")


def erase_participant(journal_path: Path, session_id: str, pid: str) -> int:
    """Tombstone the participant's contributions, whispers and biometric summaries in the
    session, delete their signals, drop the snapshots that include them; return how many
    records (events, seconds of signals) were erased."""
    if not journal_path.is_file():
        raise JournalUnavailable(f"no journal at {journal_path}")
    hold = JournalLock(journal_path).exclusive()
    try:
        return _erase(journal_path, session_id, pid)
    finally:
        hold.release()


def _erase(journal_path: Path, session_id: str, pid: str) -> int:
    try:
        conn = connect_writer(journal_path)
    except sqlite3.Error as exc:
        raise JournalUnavailable(f"cannot open the journal {journal_path}: {exc}") from exc
    try:
        conn.execute("PRAGMA secure_delete=ON")
        erased = _tombstone(conn, session_id, pid)  # the writer's schema has ``signals``
        if erased:
            conn.execute("VACUUM")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("journal %s in use: its write-ahead log is not truncated", journal_path)
        return erased
    except sqlite3.Error as exc:
        raise JournalUnavailable(f"cannot erase from the journal {journal_path}: {exc}") from exc
    finally:
        conn.close()


def _tombstone(conn: sqlite3.Connection, session_id: str, pid: str) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        find_session(conn, session_id)
        marks = ",".join("?" * len(ERASED_KINDS))
        rows = conn.execute(
            f"SELECT seq, kind FROM events WHERE session = ? AND participant = ?"
            f" AND kind IN ({marks})",
            (session_id, pid, *ERASED_KINDS),
        ).fetchall()
        conn.executemany(
            "UPDATE events SET kind = 'Erased', payload = ? WHERE seq = ?",
            [(encode_event(Erased(pid, kind)), seq) for seq, kind in rows],
        )
        if rows:
            first = min(seq for seq, _ in rows)
            conn.execute(
                "DELETE FROM snapshots WHERE session = ? AND upto >= ?", (session_id, first)
            )
        seconds = conn.execute(
            "DELETE FROM signals WHERE session = ? AND participant = ?", (session_id, pid)
        ).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(rows) + seconds
