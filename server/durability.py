"""What a session needs of whatever makes its events durable: the SQLite journal of one
process (``journal.session_journal.SessionJournal``), or a cluster's log
(``cluster.log_journal.LogJournal``). The session records each event its engine accepted and
acknowledges only once what it acknowledges is durable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dreamcommons.contracts.errors import NotAllowed
from dreamcommons.contracts.protocol import Ack
from dreamcommons.server.engine import DreamEngine, Event
from dreamcommons.server.journal.signals import SignalSecond

Reply = Ack | NotAllowed  # an acknowledgement, or the refusal that takes its place


class Durability(Protocol):
    @property
    def writable(self) -> bool:
        """False from a failed write until one succeeds again."""

    @property
    def accepting(self) -> bool:
        """Whether a new event can be made durable now."""

    def record(self, event: Event) -> int: ...

    def member_joined(self, pid: str, name: str, role: str, resume_token: str) -> None: ...

    def member_left(self, pid: str) -> None: ...

    def paired(self, pid: str, device_id: str) -> None: ...

    def signals(self, pid: str, second: SignalSecond) -> None: ...

    def unavailable(self) -> NotAllowed: ...

    def acknowledge(self, reply: Ack, send: Callable[[Reply], None]) -> None: ...

    async def durable(self) -> None: ...

    def tick(self, t: float, engine: DreamEngine) -> None: ...  # recorded now, written behind

    def abandon(self) -> None: ...

    def tick_allowed(self) -> bool: ...
