"""Who left a session and when: shown away for a while, then hidden but resumable, then forgotten.

A member whose connection closed stays *away* (listed with ``present: false``) for
``away_shown_s``, and at most ``max_away_shown`` of them are listed at once: the longest away
are hidden first. A *hidden* member costs the room nothing (no welcome, snapshot or delta lists
them) but can still resume as themselves until ``resume_window_s`` after they left, and at most
``max_resumable`` are kept; after that they are *forgotten* and their resume token is void.

Pure bookkeeping: time comes in as an argument (any monotonic origin), and every answer is the
list of participant ids that moved, for the session to tell the engine and the journal.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AbsencePolicy:
    """How long, and how many, members who left are kept (the server's settings say)."""

    max_members: int = 512  # listed at once: present and away
    away_shown_s: float = 900.0
    max_away_shown: int = 64
    resume_window_s: float = 6 * 3600.0
    max_resumable: int = 2048


@dataclass(frozen=True, slots=True)
class Moved:
    """Who stopped being listed (``hidden``) and who can no longer resume (``forgotten``)."""

    hidden: tuple[str, ...] = ()
    forgotten: tuple[str, ...] = ()


@dataclass(slots=True)
class Absences:
    """The away and hidden members of one session, each in the order they left."""

    policy: AbsencePolicy = field(default_factory=AbsencePolicy)
    _away: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _hidden: OrderedDict[str, float] = field(default_factory=OrderedDict)

    @property
    def away(self) -> int:
        return len(self._away)

    @property
    def hidden(self) -> int:
        return len(self._hidden)

    def is_hidden(self, pid: str) -> bool:
        return pid in self._hidden

    def left(self, pid: str, now: float) -> Moved:
        """``pid``'s connection closed at ``now``: away, and whoever that pushes past the
        bound of away members is hidden (and so on down to the resumable bound)."""
        self._away.pop(pid, None)
        self._away[pid] = now
        hidden: list[str] = []
        while len(self._away) > self.policy.max_away_shown:
            hidden.append(self._hide_oldest())
        return Moved(tuple(hidden), self._bound_hidden())

    def hidden_at_recovery(self, pid: str, now: float) -> Moved:
        """A member the journal remembers, not in the recovered dream: resumable from ``now``."""
        self._hidden[pid] = now
        return Moved(forgotten=self._bound_hidden())

    def returned(self, pid: str) -> bool:
        """``pid`` resumed; whether they were hidden (and so must be listed again)."""
        self._away.pop(pid, None)
        return self._hidden.pop(pid, None) is not None

    def discard(self, pid: str) -> None:
        """``pid`` was removed by the host: neither away nor resumable."""
        self._away.pop(pid, None)
        self._hidden.pop(pid, None)

    def make_room(self, listed: int) -> tuple[str, ...] | None:
        """Before listing one more member beside ``listed``: the away members to hide to stay
        within ``max_members``, or None when everyone listed is present (the session is full)."""
        excess = listed + 1 - self.policy.max_members
        if excess <= 0:
            return ()
        if excess > len(self._away):
            return None
        return tuple(self._hide_oldest() for _ in range(excess))

    def expire(self, now: float) -> Moved:
        """Hide who has been away longer than ``away_shown_s``; forget who left longer than
        ``resume_window_s`` ago."""
        hidden: list[str] = []
        while self._away and next(iter(self._away.values())) <= now - self.policy.away_shown_s:
            hidden.append(self._hide_oldest())
        forgotten: list[str] = []
        horizon = now - self.policy.resume_window_s
        while self._hidden and next(iter(self._hidden.values())) <= horizon:
            forgotten.append(self._hidden.popitem(last=False)[0])
        return Moved(tuple(hidden), tuple(forgotten) + self._bound_hidden())

    def _hide_oldest(self) -> str:
        pid, since = self._away.popitem(last=False)
        self._hidden[pid] = since
        return pid

    def _bound_hidden(self) -> tuple[str, ...]:
        forgotten: list[str] = []
        while len(self._hidden) > self.policy.max_resumable:
            forgotten.append(self._hidden.popitem(last=False)[0])
        return tuple(forgotten)
