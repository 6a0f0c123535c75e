"""One session's side of the journal: record what its engine accepted, commit once per tick,
snapshot now and then, and release acknowledgements only once what they acknowledge is durable.

    journal.record(event)                  # right after engine.apply(event) returned
    journal.when_durable(release)          # release(True) once on disk, release(False) if not
    await journal.durable()                # a join: committed now, not at the next tick
    journal.tick(t, engine)                # after engine.tick(t): Tick, snapshot; commit behind

The tick's commit runs behind the tick (one commit at a time, in the journal's writer thread):
a slow disk delays the acks, never the next tick.

``durable()`` does not wait for the tick: it commits at once, or as soon as the commit under
way has finished, and that one commit holds whatever was recorded meanwhile (a group commit:
fifty joins at once cost one or two commits, not fifty). During a rush (the last commit
released more than one waiter) the next commit starts no sooner than ``rush_pace_s`` after the
last one began, so that a room filling up makes a few large commits, not one per handful of
joins: a commit's fixed cost is most of its cost. A lone join in a quiet room commits at once.
Acknowledgements of contributions ride the tick's own commit: what they acknowledge is shown
at that tick anyway, and a commit per contribution would cost more than it gives.

A failed commit keeps its events buffered (the next tick retries) and releases what waited on
it with ``False``: those acknowledgements are refused, never sent. While the journal cannot
write, ``accepting`` is False and the session refuses new contributions.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable

from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Ack
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import DreamEngine, Event
from dreamcommons.server.journal.codec import Tick
from dreamcommons.server.journal.errors import JournalUnavailable
from dreamcommons.server.journal.records import token_hash
from dreamcommons.server.journal.signals import SignalSecond
from dreamcommons.server.journal.store import Journal

log = logging.getLogger(__name__)

Release = Callable[[bool], None]
Reply = Ack | NotAllowed  # an acknowledgement, or the refusal that takes its place


class SessionJournal:
    """The journal as one session uses it. ``snapshot_every`` ticks, a snapshot of the engine."""

    def __init__(
        self,
        journal: Journal,
        session_id: str,
        venue: VenuePreset,
        *,
        snapshot_every: int,
        host_key: str | None = None,
        rush_pace_s: float = 0.0,
    ) -> None:
        self.journal = journal
        self.session_id = session_id
        self.snapshot_every = max(1, snapshot_every)
        self.refused_acks = 0
        self._ticks = 0
        self._waiting: deque[tuple[int, Release]] = deque()
        self._acks: deque[tuple[int, Ack, Callable[[Reply], None]]] = deque()
        self._failing = False
        self._hurried = 0  # the last position a ``durable()`` or a tick wants committed
        self._hurrying: asyncio.Task[None] | None = None  # its commits, until it is on disk
        self.rush_pace_s = rush_pace_s
        self._released = 0  # waiters the last commit released: more than one is a rush
        self._began = -math.inf  # when (loop time) the last hurried commit began
        key_hash = None if host_key is None else token_hash(host_key)
        journal.record_session(session_id, venue, key_hash)

    @property
    def writable(self) -> bool:
        """False from a failed commit until one succeeds again."""
        return not self._failing

    @property
    def accepting(self) -> bool:
        """Whether a new event can be made durable: the journal writes and has room."""
        return self.journal.healthy and self.journal.has_room()

    def record(self, event: Event) -> int:
        """Buffer an event the engine accepted; its journal position."""
        return self.journal.append(self.session_id, event)

    def member_joined(self, pid: str, name: str, role: str, resume_token: str) -> None:
        self.journal.record_member(self.session_id, pid, name, role, token_hash(resume_token))

    def member_left(self, pid: str) -> None:
        self.journal.record_member_left(self.session_id, pid)

    def paired(self, pid: str, device_id: str) -> None:
        self.journal.record_pairing(self.session_id, pid, device_id)

    def signals(self, pid: str, second: SignalSecond) -> None:
        """A second of the sleeper's readings, committed with the next tick."""
        self.journal.record_signals(self.session_id, pid, second)

    def unavailable(self) -> NotAllowed:
        """The refusal to send while the journal cannot write."""
        return NotAllowed(
            ErrorCode.JOURNAL_UNAVAILABLE,
            "the session's journal cannot be written: nothing can be acknowledged now",
        )

    def acknowledge(self, reply: Ack, send: Callable[[Reply], None]) -> None:
        """``send(reply)`` once what it acknowledges is durable; a refusal if it is not. Kept
        as it comes, with no closure of its own: there is one for every contribution."""
        upto = self.journal.last_seq
        if upto <= self.journal.durable_seq:
            send(reply)
        else:
            self._acks.append((upto, reply, send))

    async def durable(self) -> None:
        """Wait until everything recorded so far is on disk; ``NotAllowed`` if it cannot be."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def settle(ok: bool) -> None:
            if not written.done():
                written.set_result(ok)

        self.when_durable(settle)
        if not written.done():
            self._hurry()
        if not await written:
            raise NotAllowed(ErrorCode.JOURNAL_UNAVAILABLE, "the journal could not be written")

    def when_durable(self, release: Release) -> None:
        """Call ``release(True)`` once everything recorded so far is on disk (``False`` if the
        commit that should have written it failed)."""
        upto = self.journal.last_seq
        if upto <= self.journal.durable_seq:
            release(True)
        else:
            self._waiting.append((upto, release))

    def _hurry(self) -> None:
        """Commit what is recorded now (after the commit under way, if any): the group commit
        ``durable()`` and the tick start."""
        self._hurried = self.journal.last_seq
        if self._hurrying is None:
            hurrying = asyncio.get_running_loop().create_task(
                self._commit_hurried(), name=f"journal-{self.session_id}"
            )
            self._hurrying = hurrying

    async def _commit_hurried(self) -> None:
        """Commit until what was hurried is on disk (or a commit fails: then what waits is
        refused, and the next tick retries); each commit takes all that came meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            while (before := self.journal.durable_seq) < self._hurried:
                wait = self._began + self.rush_pace_s - loop.time()
                if self._released > 1 and wait > 0:
                    await asyncio.sleep(wait)  # a rush: let more come into this commit
                self._began = loop.time()
                if not await self.commit() or self.journal.durable_seq == before:
                    return
        finally:
            self._hurrying = None

    def tick(self, t: float, engine: DreamEngine) -> None:
        """Journal the tick the engine just made (and a snapshot when due) now, and commit it
        behind the tick: at once, or after the commit under way, with whatever comes
        meanwhile. The dream never waits for the disk; a failed commit is retried at the
        next tick."""
        self._record_tick(t, engine)
        self._hurry()

    async def tick_committed(self, t: float, engine: DreamEngine) -> bool:
        """``tick``, waiting for its commit (a tool's or a test's: a session does not wait).
        True when the commit succeeded."""
        self._record_tick(t, engine)
        return await self.commit()

    def _record_tick(self, t: float, engine: DreamEngine) -> None:
        seq = self.journal.append(self.session_id, Tick(t))
        self._ticks += 1
        if self._ticks % self.snapshot_every == 0:
            self.journal.snapshot(self.session_id, seq, engine)

    async def commit(self) -> bool:
        """Commit what is buffered; release what waited on it. True when it is on disk."""
        try:
            await self.journal.commit()
        except JournalUnavailable as exc:
            self._refuse_waiting(str(exc))
            return False
        if self._failing:
            self._failing = False
            log.warning("session %s: journal writable again, acknowledging", self.session_id)
        durable = self.journal.durable_seq
        waiting = self._waiting
        released = len(waiting)
        while waiting and waiting[0][0] <= durable:
            waiting.popleft()[1](True)
        self._released = released - len(waiting)
        acks = self._acks
        while acks and acks[0][0] <= durable:
            _, reply, send = acks.popleft()
            send(reply)
        return True

    def abandon(self) -> None:
        """The session stopped ticking: release what waits for a commit with ``False``."""
        if self._hurrying is not None:
            self._hurrying.cancel()
        while self._waiting:
            self._waiting.popleft()[1](False)
        self._refuse_acks()

    def _refuse_waiting(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            log.error(
                "session %s: JOURNAL UNAVAILABLE, contributions are not acknowledged: %s",
                self.session_id,
                reason,
            )
        while self._waiting:
            self.refused_acks += 1
            self._waiting.popleft()[1](False)
        self.refused_acks += len(self._acks)
        self._refuse_acks()

    def _refuse_acks(self) -> None:
        """Every ack that waits becomes the refusal that takes its place."""
        while self._acks:
            _, reply, send = self._acks.popleft()
            send(
                NotAllowed(
                    ErrorCode.JOURNAL_UNAVAILABLE,
                    "not acknowledged: the journal could not be written",
                    ref=reply.cid,
                )
            )

    def tick_allowed(self) -> bool:
        """Whether the journal can take one more tick (else the session waits, so that the
        journal never misses a tick the engine made)."""
        if self.journal.has_room():
            return True
        log.error("session %s: journal backlog full, the dream is paused", self.session_id)
        return False
