"""Who a resume token belongs to: the member of a session it proves, found by its hash.

A participant proves who they are to the journal as to a live server, with the resume token
their client keeps; the journal holds only ``token_hash(token)``. A member removed from the
session (``left``) still owns their data, so their token still proves them here.
"""

from __future__ import annotations

import hmac
import sqlite3
from pathlib import Path

from dreamcommons.server.journal.errors import UnknownResumeToken
from dreamcommons.server.journal.reading import find_session
from dreamcommons.server.journal.records import token_hash
from dreamcommons.server.journal.schema import connect_reader


def participant_with_token(conn: sqlite3.Connection, session_id: str, token: str) -> str:
    """The participant id of the session's member holding ``token``; ``SessionNotFound`` or
    ``UnknownResumeToken`` otherwise."""
    find_session(conn, session_id)
    presented = token_hash(token)
    rows = conn.execute(
        "SELECT pid, token_hash FROM members WHERE session = ?", (session_id,)
    ).fetchall()
    for pid, stored in rows:
        if hmac.compare_digest(presented, stored):
            return str(pid)
    raise UnknownResumeToken(f"no member of session {session_id!r} has that resume token")


def journal_participant(journal_path: Path, session_id: str, token: str) -> str:
    """``participant_with_token`` on a journal file, read without disturbing its writer."""
    conn = connect_reader(journal_path)
    try:
        return participant_with_token(conn, session_id, token)
    finally:
        conn.close()
