"""A session as the cluster's log holds it: for the engine that takes it over.

The latest snapshot (if any) with the events after it replayed onto it (``Replayer``: the
same rule as the SQLite journal's recovery, so a replay never meets a refusal). The members'
records are not in the log yet: whoever the dream lists comes back away, and cannot resume.
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


def readmit_listed(session: DreamSession) -> None:
    """Everyone the rebuilt dream lists, as members away (no resume token brings them back)."""
    for participant in session.engine.state.participants:
        session.readmit(
            RecoveredMember(participant.id, participant.name, participant.role, token_hash="")
        )
