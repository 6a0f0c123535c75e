"""The journal's errors, under the server's one tree.

DreamcommonsError
└── JournalError            something is wrong with the journal
    ├── JournalUnavailable  it cannot be written (disk full, unwritable, gone): stop acking
    │   └── JournalInUse    a live server holds it (erasure), or an erasure does (a server)
    ├── JournalCorrupt      what it holds cannot be read back as a session
    │   └── SnapshotUnreadable   a snapshot this server does not load: recovery replays
    │       └── UnknownSnapshotFormat   one in a format this version does not know
    ├── SessionNotFound     no session of that id
    └── UnknownResumeToken  no member of the session holds that resume token
"""

from __future__ import annotations

from dreamcommons.contracts.errors import DreamcommonsError


class JournalError(DreamcommonsError):
    """Root of the journal's errors."""


class JournalUnavailable(JournalError):
    """The journal cannot be opened or written: nothing buffered since the last commit is
    durable, so nothing of it may be acknowledged. A later ``commit()`` retries."""


class JournalCorrupt(JournalError):
    """The journal holds something that cannot be decoded or replayed: an unknown event kind,
    a malformed payload, an unreadable snapshot, or an event the engine refuses on replay."""


class SnapshotUnreadable(JournalCorrupt):
    """A snapshot this server does not load: damaged, in the pickle of versions before
    snapshots had a format, or in a format it does not know. Not fatal: recovery replays
    the session's events from an earlier snapshot or from the start instead."""


class UnknownSnapshotFormat(SnapshotUnreadable):
    """A snapshot in an encoding or format version this server does not read (one written by
    a newer version, say): ``found`` says which."""

    def __init__(self, message: str, found: object) -> None:
        super().__init__(message)
        self.found = found


class SessionNotFound(JournalError):
    """The journal holds no session of that id."""


class JournalInUse(JournalUnavailable):
    """Someone else holds the journal: a live server (so it cannot be erased from now), or an
    erasure in progress (so a server cannot open it yet)."""


class UnknownResumeToken(JournalError):
    """No member of the session holds that resume token: it proves nobody's identity here."""
