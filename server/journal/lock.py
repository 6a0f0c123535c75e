"""The advisory lock that tells a live server's journal from an idle one.

A ``Journal`` holds a shared lock on ``<journal>.lock`` while it is open; erasing takes it
exclusively and is refused while any server holds it. ``flock`` locks go with the process,
so a killed server leaves nothing behind. The lock file stays (removing it would race).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dreamcommons.server.journal.errors import JournalInUse, JournalUnavailable


def lock_path(journal_path: Path) -> Path:
    """Where the lock of this journal lives: next to it, ``<name>.lock``."""
    return journal_path.with_name(journal_path.name + ".lock")


class JournalLock:
    """One hold on a journal's lock file: ``shared()`` for a writer, ``exclusive()`` for an
    erasure; either raises ``JournalInUse`` at once rather than wait."""

    def __init__(self, journal_path: Path) -> None:
        self.journal_path = journal_path
        self.path = lock_path(journal_path)
        self._fd: int | None = None

    def shared(self) -> JournalLock:
        return self._take(fcntl.LOCK_SH, "it is being erased; start the server again after")

    def exclusive(self) -> JournalLock:
        return self._take(fcntl.LOCK_EX, "a live server is writing it; stop the server first")

    def _take(self, mode: int, busy: str) -> JournalLock:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise JournalUnavailable(f"cannot open the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalInUse(f"journal {self.journal_path} is in use: {busy}") from None
        except OSError as exc:
            os.close(fd)
            raise JournalUnavailable(f"cannot lock {self.path}: {exc}") from exc
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go (closing the file releases the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
