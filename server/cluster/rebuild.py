"""A session as the cluster's log holds it: for the engine that takes it over.

The latest snapshot (if any) with the events after it replayed onto it (``Replayer``: the
same rule as the SQLite journal's recovery, so a replay never meets a refusal), and its
members back, away until they resume with their tokens.
"""

from __future__ import annotations

import logging

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.cluster.log import SessionLog
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal import RecoveredMember
from dreamcommons.server.journal.replay import Replayer
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK
from dreamcommons.server.journal.snapshots import decode_snapshot
from dreamcommons.server.session import DreamSession

log = logging.getLogger(__name__)


async def rebuild(session_log: SessionLog, session: str, venue: VenuePreset) -> DreamEngine | None:
    """The session's engine at its last logged event; None when the log has nothing of it."""
    saved = await session_log.load_snapshot(session)
    engine, after = None, 0
    if saved is not None:
        blob, after = saved
        engine = decode_snapshot(SNAPSHOT_MSGPACK, blob, venue)
    replayer = Replayer(venue, session, engine)
    async for _, event in session_log.read_after(session, after):
        replayer.feed(event)
    if saved is None and replayer.fed == 0:
        return None
    log.info(
        "session %s rebuilt from the log at tick %d (%s, %d events after it)",
        session,
        replayer.engine.state.seq,
        "a snapshot" if saved is not None else "no snapshot",
        replayer.fed,
    )
    return replayer.engine


def readmit(kept: list[RecoveredMember], session: DreamSession) -> None:
    """The session's members, away until they resume; anyone else the rebuilt dream lists
    (whose record was not written before the owner died) away too, with no token."""
    for member in kept:
        session.readmit(member)
    known = {member.pid for member in kept}
    for participant in session.engine.state.participants:
        if participant.id not in known:
            unknown = RecoveredMember(participant.id, participant.name, participant.role, "")
            session.readmit(unknown)
