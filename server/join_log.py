"""The host's log of who joins: a line for each join, until a room fills faster than a person
reads; then a line a second that counts the rest.

A line per join costs more of a seating than the join's own session work (formatting and
writing a log record), and two thousand lines in two seconds say less than one that counts
them. So each session gets ``lines_per_s`` lines a second, one per join; the joins past those
in the same second are counted, and one line at the end of that second says how many, and
who came last. A room that fills slowly reads exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

LINES_PER_S: Final = 10


@dataclass(slots=True)
class _Second:
    """One session's current second of joins: when it began, lines written, joins counted."""

    began: float
    lines: int = 0
    counted: int = 0
    last: str = ""


class JoinLog:
    """``joined(...)`` for each admitted join, on the event loop; a host's join always has its
    own line. ``window_s`` is the second (shorter in tests)."""

    def __init__(self, lines_per_s: int = LINES_PER_S, window_s: float = 1.0) -> None:
        self.lines_per_s = lines_per_s
        self.window_s = window_s
        self._seconds: dict[str, _Second] = {}

    def joined(self, session: str, name: str, pid: str, role: str) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        second = self._seconds.get(session)
        if second is None or now - second.began >= self.window_s:
            # a second that ended with joins counted still writes its line: ``_end`` holds it
            second = self._seconds[session] = _Second(now)
        if second.lines < self.lines_per_s or role == "host":
            second.lines += 1
            log.info("%s joined %s as %s (%s)", name, session, pid, role)
            return
        if not second.counted:
            loop.call_at(second.began + self.window_s, self._end, session, second)
        second.counted += 1
        second.last = f"{name} as {pid}"

    def _end(self, session: str, second: _Second) -> None:
        log.info(
            "%d more joined %s in that second (the last: %s)", second.counted, session, second.last
        )
        if self._seconds.get(session) is second:
            del self._seconds[session]
