"""The journal's errors, under the server's one tree.

DreamcommonsError
└── JournalError            something is wrong with the journal
    ├── JournalUnavailable  it cannot be written (disk full, unwritable, gone): stop acking
    └── JournalCorrupt      what it holds cannot be read back as a session
"""

from __future__ import annotations

from server.errors import DreamcommonsError


class JournalError(DreamcommonsError):
    """Root of the journal's errors."""


class JournalUnavailable(JournalError):
    """The journal cannot be opened or written: nothing buffered since the last commit is
    durable, so nothing of it may be acknowledged. A later ``commit()`` retries."""


class JournalCorrupt(JournalError):
    """The journal holds something that cannot be decoded or replayed: an unknown event kind,
    a malformed payload, an unreadable snapshot, or an event the engine refuses on replay."""


class SessionNotFound(JournalError):
    """The journal holds no session of that id."""
