"""Reading a journal back: sessions, events in journal order, and what recovery needs.

Plain synchronous functions over a ``sqlite3.Connection``: the ``Journal`` calls them in its
worker thread; replay and export call them on a read-only connection of their own.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal.codec import JournalEvent, decode_event
from dreamcommons.server.journal.errors import JournalCorrupt, SessionNotFound, SnapshotUnreadable
from dreamcommons.server.journal.records import RecoveredMember, RecoveredSession, SessionInfo
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.snapshots import decode_snapshot

log = logging.getLogger(__name__)

CHUNK = 4096  # rows fetched per query while iterating


def read_sessions(conn: sqlite3.Connection) -> list[SessionInfo]:
    """Every session the journal knows, by id."""
    rows = conn.execute(
        "SELECT id, venue, venue_preset, host_key_hash FROM sessions ORDER BY id"
    ).fetchall()
    return [SessionInfo(sid, venue, _preset(sid, preset), key) for sid, venue, preset, key in rows]


def fetch_events(
    conn: sqlite3.Connection,
    session: str | None,
    after: int,
    limit: int = CHUNK,
    participant: str | None = None,
) -> list[tuple[int, str, JournalEvent]]:
    """Up to ``limit`` events with ``seq > after`` (of one session, or all; of one participant
    of that session, or everyone's), in journal order: (seq, session, event)."""
    if session is None:
        rows = conn.execute(
            "SELECT seq, session, kind, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
    elif participant is None:
        rows = conn.execute(
            "SELECT seq, session, kind, payload FROM events"
            " WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session, after, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT seq, session, kind, payload FROM events"
            " WHERE session = ? AND participant = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session, participant, after, limit),
        ).fetchall()
    return [(seq, sid, decode_event(kind, payload)) for seq, sid, kind, payload in rows]


def iter_events(
    conn: sqlite3.Connection,
    session: str | None = None,
    after: int = 0,
    participant: str | None = None,
) -> Iterator[tuple[int, str, JournalEvent]]:
    """All events with ``seq > after`` (of one session, or all; of one participant of that
    session, or everyone's), in journal order."""
    if participant is not None and session is None:
        raise ValueError("a participant id means something only within a session")
    while True:
        chunk = fetch_events(conn, session, after, participant=participant)
        yield from chunk
        if len(chunk) < CHUNK:
            return
        after = chunk[-1][0]


def recover_sessions(conn: sqlite3.Connection) -> list[RecoveredSession]:
    """Each session's latest snapshot, the events after it, its members and pairings."""
    return [_recover(conn, info) for info in read_sessions(conn)]


def _recover(conn: sqlite3.Connection, info: SessionInfo) -> RecoveredSession:
    engine, upto = _latest_snapshot(conn, info)
    tail = list(iter_events(conn, info.id, upto))
    members = [
        RecoveredMember(pid, name, role, token, bool(left), last_cid)
        for pid, name, role, token, left, last_cid in conn.execute(
            "SELECT pid, name, role, token_hash, left, last_cid FROM members WHERE session = ?"
            " ORDER BY length(pid), pid",
            (info.id,),
        )
    ]
    pairings = [
        (pid, device)
        for pid, device in conn.execute(
            "SELECT pid, device_id FROM pairings WHERE session = ? ORDER BY device_id",
            (info.id,),
        )
    ]
    return RecoveredSession(
        info=info,
        engine=engine,
        snapshot_upto=upto,
        events=[event for _, _, event in tail],
        last_seq=tail[-1][0] if tail else upto,
        members=members,
        pairings=pairings,
    )


def _latest_snapshot(conn: sqlite3.Connection, info: SessionInfo) -> tuple[DreamEngine | None, int]:
    """The latest snapshot this server can load, newest first, and the position it is at;
    (None, 0) without one. Each one it cannot load is skipped with a warning saying why: the
    events are all in the journal, so recovery replays what the snapshot would have saved."""
    rows = conn.execute(
        "SELECT upto, encoding, engine FROM snapshots WHERE session = ? ORDER BY upto DESC",
        (info.id,),
    ).fetchall()
    if not rows:
        return None, 0
    venue = info.preset()
    for upto, encoding, blob in rows:
        try:
            engine = decode_snapshot(encoding, blob, venue)
        except SnapshotUnreadable as exc:
            log.warning("session %s: snapshot at event %d not loaded: %s", info.id, upto, exc)
            continue
        if engine.session != info.id:
            log.warning(
                "session %s: snapshot at event %d not loaded: it is of session %s",
                info.id,
                upto,
                engine.session,
            )
            continue
        if upto != rows[0][0]:
            log.warning(
                "session %s: recovering from the earlier snapshot at event %d", info.id, upto
            )
        return engine, upto
    log.warning(
        "session %s: no snapshot could be loaded; recovering it by replaying its events"
        " from the start",
        info.id,
    )
    return None, 0


def _preset(session: str, text: str | None) -> VenuePreset | None:
    if text is None:
        return None
    try:
        return VenuePreset.model_validate_json(text)
    except ValidationError as exc:
        raise JournalCorrupt(f"session {session}: recorded venue preset invalid ({exc})") from None


def find_session(conn: sqlite3.Connection, session: str) -> SessionInfo:
    """The session of that id, or ``SessionNotFound`` naming the ones there are."""
    sessions = read_sessions(conn)
    for info in sessions:
        if info.id == session:
            return info
    known = ", ".join(s.id for s in sessions) or "none"
    raise SessionNotFound(f"no session {session!r} in the journal (sessions: {known})")


def journal_sessions(journal_path: Path) -> list[SessionInfo]:
    """The sessions of a journal file, read without disturbing a server writing it."""
    conn = connect_reader(journal_path)
    try:
        return read_sessions(conn)
    finally:
        conn.close()
