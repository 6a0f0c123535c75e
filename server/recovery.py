"""A server's sessions and its journal: each session journals through it, and on start every
journaled session comes back at the state it had, its members away until they resume."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.absences import AbsencePolicy
from dreamcommons.server.fanout import Fanout
from dreamcommons.server.journal import Journal, restore
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.session import DreamSession, PaceHandler
from dreamcommons.server.settings import ServerSettings

log = logging.getLogger(__name__)


def session_journal(
    journal: Journal, session_id: str, venue: VenuePreset, settings: ServerSettings
) -> SessionJournal:
    """The session's view of the server's journal, snapshotting every ``snapshot_every_s``."""
    return SessionJournal(
        journal,
        session_id,
        venue,
        snapshot_every=max(1, round(settings.snapshot_every_s * venue.tick_hz)),
        host_key=settings.host_key,
        rush_pace_s=settings.journal_rush_pace_s,
    )


def fanout(settings: ServerSettings) -> Fanout:
    """A session's delivery, bounded as the settings say."""
    return Fanout(settings.slow_client_bytes, settings.slow_client_grace_s)


def absence_policy(settings: ServerSettings) -> AbsencePolicy:
    """How long, and how many, members who left a session are listed and kept for resuming."""
    return AbsencePolicy(
        max_members=settings.max_members,
        away_shown_s=settings.away_shown_s,
        max_away_shown=settings.max_away_shown,
        resume_window_s=settings.resume_window_s,
        max_resumable=settings.max_resumable,
    )


async def recover_sessions(
    journal: Journal,
    settings: ServerSettings,
    on_pace: PaceHandler | None,
    on_pairing: Callable[[str, str], None],
) -> list[DreamSession]:
    """Every session of an open journal, restored (latest snapshot and the tail after it);
    ``on_pairing(device_id, "session/pid")`` for each device paired in it."""
    started = time.perf_counter()
    sessions = []
    for recovered in await journal.recover():
        venue = recovered.info.preset()
        engine = restore(recovered, venue)
        session = DreamSession(
            recovered.id,
            venue,
            on_pace=on_pace,
            engine=engine,
            journal=session_journal(journal, recovered.id, venue, settings),
            fanout=fanout(settings),
            whisper_max=settings.max_whisper_chars,
            absences=absence_policy(settings),
            recent_deltas_s=settings.recent_deltas_s,
        )
        for member in recovered.members:
            session.readmit(member)
        for pid, device_id in recovered.pairings:
            on_pairing(device_id, f"{session.id}/{pid}")
        sessions.append(session)
        log.info(
            "session %s recovered at tick %d (t=%.1fs): %d members, %d events replayed",
            session.id,
            engine.state.seq,
            engine.state.t,
            len(recovered.members),
            len(recovered.events),
        )
    if sessions:
        elapsed = time.perf_counter() - started
        log.info("journal %s: recovered in %.2fs", journal.path, elapsed)
    return sessions
