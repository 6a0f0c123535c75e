"""The journal's lock file: held while a journal is open, gone once its last holder let go."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from dreamcommons.server.journal.errors import JournalInUse
from dreamcommons.server.journal.lock import JournalLock, lock_path


def test_the_last_holder_removes_the_lock_file(tmp_path: Path) -> None:
    journal = tmp_path / "dreams.sqlite"
    first = JournalLock(journal).shared()
    second = JournalLock(journal).shared()
    first.release()
    assert lock_path(journal).exists()  # the second still holds it
    with pytest.raises(JournalInUse):
        JournalLock(journal).exclusive()
    second.release()
    assert not lock_path(journal).exists()
    JournalLock(journal).exclusive().release()
    assert not lock_path(journal).exists()


def test_a_lock_file_removed_before_it_was_locked_is_taken_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "dreams.sqlite"
    real_flock = fcntl.flock
    removed: list[int] = []

    def flock_after_the_last_holder_left(fd: int, operation: int) -> None:
        if not removed:  # between this one's open and its lock, the last holder removed it
            removed.append(fd)
            os.unlink(lock_path(journal))
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_last_holder_left)
    hold = JournalLock(journal).shared()
    monkeypatch.setattr(fcntl, "flock", real_flock)
    assert removed
    assert lock_path(journal).exists()  # made anew, and that is the one held
    with pytest.raises(JournalInUse):
        JournalLock(journal).exclusive()
    hold.release()
    assert not lock_path(journal).exists()
