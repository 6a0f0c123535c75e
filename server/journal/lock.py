"""The advisory lock that tells a live server's journal from an idle one.

A ``Journal`` holds a shared lock on ``<journal>.lock`` while it is open; erasing takes it
exclusively and is refused while any server holds it. ``flock`` locks go with the process,
so a killed server holds nothing (its file stays, harmless, until the next clean stop).

The last one to let go removes the file: it takes the lock exclusively first, so nobody
holds it then, and whoever opened the file just before it went finds, once it has the lock,
that its file is no longer the one at the path, and starts over with a new one.
"""

from __future__ import annotations

import contextlib
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
        for _ in range(_ATTEMPTS):
            fd = self._lock(mode, busy)
            if _same_file(fd, self.path):
                self._fd = fd
                return self
            os.close(fd)  # removed by its last holder meanwhile: take the new one
        raise JournalUnavailable(f"cannot lock {self.path}: it keeps being removed")

    def _lock(self, mode: int, busy: str) -> int:
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
        return fd

    def release(self) -> None:
        """Let go (closing the file releases the lock); the last holder removes the file."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # another holder still has it: the file is theirs to remove
        else:
            if _same_file(fd, self.path):
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
        finally:
            os.close(fd)


_ATTEMPTS = 8


def _same_file(fd: int, path: Path) -> bool:
    """``fd`` is still the file at ``path`` (not one removed since it was opened)."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)
