"""The journal: every event the engines consume, durable in groups, replayable and exportable.

    async with Journal(path) as journal:
        journal.record_session("commons", venue)
        seq = journal.append("commons", event)   # after engine.apply(event) accepted it
        journal.append("commons", Tick(t))       # for each engine.tick(t)
        await journal.commit()                    # once per tick; then acknowledge
        journal.snapshot("commons", seq_of_tick, engine)   # now and then, after a tick

    for session in await journal.recover():
        engine = restore(session)                 # snapshot + tail, replayed

SQLite in WAL mode, one writer thread, one transaction per commit; see ``schema`` for the
tables, ``snapshots`` for what a snapshot holds and what happens to one that cannot be
loaded, ``replay`` for why a replay equals the recording, ``erase`` for erasure,
``members`` for finding a participant by their resume token, ``export`` for exports (and
``night`` for a sleeper's night as EDF+ and a YASA hypnogram), ``signals`` for the sleepers'
1 Hz signals.
"""

from dreamcommons.server.journal.codec import (
    Erased,
    JournalEvent,
    Tick,
    decode_event,
    encode_event,
    kind_of,
)
from dreamcommons.server.journal.erase import erase_participant
from dreamcommons.server.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalInUse,
    JournalUnavailable,
    SessionNotFound,
    SnapshotUnreadable,
    UnknownResumeToken,
    UnknownSnapshotFormat,
)
from dreamcommons.server.journal.export import export, export_participant
from dreamcommons.server.journal.members import journal_participant, participant_with_token
from dreamcommons.server.journal.night import export_nights
from dreamcommons.server.journal.reading import find_session, journal_sessions, read_sessions
from dreamcommons.server.journal.records import (
    JournalStats,
    RecoveredMember,
    RecoveredSession,
    SessionInfo,
    token_hash,
)
from dreamcommons.server.journal.replay import Replayer, play, replay, replay_file, restore
from dreamcommons.server.journal.store import Journal

__all__ = [
    "Erased",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalEvent",
    "JournalInUse",
    "JournalStats",
    "JournalUnavailable",
    "RecoveredMember",
    "RecoveredSession",
    "Replayer",
    "SessionInfo",
    "SessionNotFound",
    "SnapshotUnreadable",
    "Tick",
    "UnknownResumeToken",
    "UnknownSnapshotFormat",
    "decode_event",
    "encode_event",
    "erase_participant",
    "export",
    "export_nights",
    "export_participant",
    "find_session",
    "journal_participant",
    "journal_sessions",
    "kind_of",
    "participant_with_token",
    "play",
    "read_sessions",
    "replay",
    "replay_file",
    "restore",
    "token_hash",
]
