"""A session's events in the cluster's durable log (``SessionLog``), as its owner records them.

The owner's session records each event its engine accepted, and each tick, here (the
``Durability`` of ``server/durability.py``, as the SQLite journal is in one process); one task
appends them to the log in order: whatever was recorded while the last appends were awaited
is sent at once, and their acknowledgements awaited together. What waits for
an acknowledgement is released once every event recorded before it is in the log. An append
that fails refuses what waits (``journal_unavailable``: not promised) and is tried again until
it is written: the engine applied it, so the log must hold it, even if nobody was told so.
Every ``snapshot_every`` ticks the engine's snapshot is saved, after the tick it follows.
The members (name, role, the resume token's hash) are kept in order with the events, in
``SessionMembers``; their pairings are kept by the ingest processes (``ingest.py``), their
signals not at all in a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Ack
from dreamcommons.server.cluster.errors import LogUnavailable
from dreamcommons.server.cluster.log import SessionLog
from dreamcommons.server.cluster.members import SessionMembers
from dreamcommons.server.durability import Reply
from dreamcommons.server.engine import DreamEngine, Event
from dreamcommons.server.journal import token_hash
from dreamcommons.server.journal.codec import Tick
from dreamcommons.server.journal.signals import SignalSecond
from dreamcommons.server.journal.snapshots import encode_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Member:
    """A member joined (``(name, role, token_hash)``) or left for good (None)."""

    pid: str
    joined: tuple[str, str, str] | None


Release = Callable[[bool], None]
_Pending = tuple[Event | Tick | _Member, bytes | None]  # an event, and a snapshot after it
RETRY_S = 0.5
MAX_BACKLOG = 10_000  # events recorded and not yet in the log, past which the dream waits
MAX_RUN = 1_000  # events sent to the log before their acknowledgements are awaited


class LogJournal:
    """Session ``session``'s events, appended to ``session_log``."""

    def __init__(
        self,
        session_log: SessionLog,
        members: SessionMembers,
        session: str,
        *,
        snapshot_every: int,
    ) -> None:
        self.log = session_log
        self.members = members
        self.session = session
        self.snapshot_every = max(1, snapshot_every)
        self.refused_acks = 0
        self.last_position = 0  # the log's position of the last event appended
        self._recorded = 0
        self._appended = 0
        self._ticks = 0
        self._id = secrets.token_hex(8)  # the events' ids: this journal's, once
        self._pending: asyncio.Queue[_Pending] = asyncio.Queue()
        self._waiting: deque[tuple[int, Release]] = deque()
        self._failing = False
        self._writer: asyncio.Task[None] | None = None

    @property
    def writable(self) -> bool:
        return not self._failing

    @property
    def accepting(self) -> bool:
        return self.log.nc.is_connected and not self._failing

    def record(self, event: Event) -> int:
        return self._queue(event, None)

    def _queue(self, event: Event | Tick | _Member, snapshot: bytes | None) -> int:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write(), name=f"log-{self.session}"
            )
        self._recorded += 1
        self._pending.put_nowait((event, snapshot))
        return self._recorded

    def member_joined(self, pid: str, name: str, role: str, resume_token: str) -> None:
        self._queue(_Member(pid, (name, role, token_hash(resume_token))), None)

    def member_left(self, pid: str) -> None:
        self._queue(_Member(pid, None), None)

    def paired(self, pid: str, device_id: str) -> None:
        pass  # kept by the ingest processes, in the pairings bucket (``cluster.ingest``)

    def signals(self, pid: str, second: SignalSecond) -> None:
        pass

    def unavailable(self) -> NotAllowed:
        return NotAllowed(
            ErrorCode.JOURNAL_UNAVAILABLE,
            "the cluster's log cannot be written: nothing can be acknowledged now",
        )

    def acknowledge(self, reply: Ack, send: Callable[[Reply], None]) -> None:
        def release(durable: bool) -> None:
            if durable:
                send(reply)
                return
            send(
                NotAllowed(
                    ErrorCode.JOURNAL_UNAVAILABLE,
                    "not acknowledged: the cluster's log could not be written",
                    ref=reply.cid,
                )
            )

        self._when_durable(release)

    async def durable(self) -> None:
        """Wait until every event recorded so far is in the log; ``NotAllowed`` if not."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(ok: bool) -> None:
            if not written.done():
                written.set_result(ok)

        self._when_durable(settle)
        if not await written:
            raise NotAllowed(
                ErrorCode.JOURNAL_UNAVAILABLE, "the cluster's log could not be written"
            )

    def _when_durable(self, release: Release) -> None:
        if self._recorded <= self._appended:
            release(True)
        else:
            self._waiting.append((self._recorded, release))

    def tick(self, t: float, engine: DreamEngine) -> None:
        """Record the tick (the dream never waits for the log), with a snapshot of the engine
        when one is due."""
        self._ticks += 1
        due = self._ticks % self.snapshot_every == 0
        self._queue(Tick(t), encode_snapshot(engine) if due else None)

    def tick_allowed(self) -> bool:
        if self._pending.qsize() < MAX_BACKLOG:
            return True
        log.error("session %s: log backlog full, the dream is paused", self.session)
        return False

    def abandon(self) -> None:
        """The session stopped: what waits is refused, and nothing more is written."""
        if self._writer is not None:
            self._writer.cancel()
        while self._waiting:
            self._waiting.popleft()[1](False)

    async def _write(self) -> None:
        carried: _Pending | None = None
        while True:
            event, snapshot = carried or await self._pending.get()
            carried = None
            if isinstance(event, _Member):
                await self._keep(event)
                self._appended += 1
            else:
                # what was recorded meanwhile goes with it, up to a member or a snapshot
                run = [event]
                while snapshot is None and len(run) < MAX_RUN and not self._pending.empty():
                    following = self._pending.get_nowait()
                    if isinstance(following[0], _Member):
                        carried = following
                        break
                    run.append(following[0])
                    snapshot = following[1]
                self.last_position = await self._append(run, self._appended + 1)
                self._appended += len(run)
            while self._waiting and self._waiting[0][0] <= self._appended:
                self._waiting.popleft()[1](True)
            if snapshot is not None:
                try:
                    await self.log.save_snapshot(self.session, snapshot, self.last_position)
                except LogUnavailable as error:  # the next one is due soon; the log has all
                    log.warning("session %s: snapshot not saved: %s", self.session, error)

    async def _append(self, run: list[Event | Tick], first: int) -> int:
        """Append ``run``, the ``first``-th event recorded and those after it, until it is
        written; each has its id (this journal's and its number), so that a run sent again
        after a failure is not stored twice."""
        ids = [f"{self._id}-{first + k}" for k in range(len(run))]
        while True:
            try:
                position = await self.log.append_many(self.session, run, ids)
            except LogUnavailable as error:
                self._refuse_waiting(str(error))
                await asyncio.sleep(RETRY_S)
                continue
            if self._failing:
                self._failing = False
                log.warning("session %s: the log writes again, acknowledging", self.session)
            return position

    async def _keep(self, member: _Member) -> None:
        while True:
            try:
                if member.joined is None:
                    await self.members.left(self.session, member.pid)
                else:
                    await self.members.joined(self.session, member.pid, *member.joined)
            except LogUnavailable as error:
                self._refuse_waiting(str(error))
                await asyncio.sleep(RETRY_S)
                continue
            return

    def _refuse_waiting(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            log.error(
                "session %s: LOG UNAVAILABLE, nothing is acknowledged: %s", self.session, reason
            )
        while self._waiting:
            self.refused_acks += 1
            self._waiting.popleft()[1](False)
