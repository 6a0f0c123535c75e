"""A session's journal: acknowledgements wait for the commit that makes them durable, a
failed commit refuses them, a slow one never holds up the ticks, and a restart brings members
and pairings back."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dreamcommons.contracts.device_protocol import DeviceBirth
from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Ack
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.devices.registry import DeviceRegistry
from dreamcommons.server.engine import DreamEngine, MotifContributed, ParticipantJoined
from dreamcommons.server.journal import Journal, batch, store, token_hash
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.recovery import recover_sessions
from dreamcommons.server.session import DreamSession
from dreamcommons.server.settings import ServerSettings
from tests.waiting import eventually

VENUE = load_venue("sleep-commons")
JOINED = ParticipantJoined(participant="p1", name="Lyra", role="dreamer")


def filling_disk(monkeypatch: pytest.MonkeyPatch, *, full: bool) -> list[bool]:
    """The journal's disk, full (every batch written fails with ENOSPC) while ``[0]`` is."""
    state = [full]

    def write_batch(conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int) -> None:
        if state[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        batch.write_batch(conn, rows, keep_snapshots=keep_snapshots)

    monkeypatch.setattr(store, "write_batch", write_batch)
    return state


def contribution(cid: int) -> MotifContributed:
    return MotifContributed("p1", cid, "moon", 0.5, 0.0, 0.5)


async def test_an_ack_waits_for_the_commit_that_makes_it_durable(tmp_path: Path) -> None:
    engine = DreamEngine(VENUE, "commons")
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=2)
        released: list[bool] = []
        for event in (JOINED, contribution(1)):
            engine.apply(event)
            log.record(event)
        log.when_durable(released.append)
        assert released == []
        engine.tick(0.1)
        assert await log.tick_committed(0.1, engine)
        assert released == [True]
        log.when_durable(released.append)  # nothing new since: durable already
        assert released == [True, True]
        engine.tick(0.2)
        await log.tick_committed(0.2, engine)
        assert journal.stats.snapshots_committed == 1


async def test_a_failed_commit_refuses_what_waited_until_the_journal_writes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = filling_disk(monkeypatch, full=True)
    engine = DreamEngine(VENUE, "commons")
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        engine.apply(JOINED)
        log.record(JOINED)
        released: list[bool] = []
        log.when_durable(released.append)
        assert not await log.tick_committed(0.1, engine)
        assert released == [False]
        assert not log.accepting
        assert log.refused_acks == 1
        full[0] = False
        assert await log.tick_committed(0.2, engine)
        assert log.accepting
        assert journal.durable_seq == journal.last_seq == 3  # the refused join made it after all


async def test_a_restart_brings_members_back_away_with_their_pairings(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with Journal(path) as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        log.member_joined("p1", "Lyra", "dreamer", "the-token")
        log.record(JOINED)
        log.record(contribution(7))
        log.paired("p1", "pod-lyra")
        engine = DreamEngine(VENUE, "commons")
        engine.apply(JOINED)
        engine.apply(contribution(7))
        engine.tick(0.1)
        await log.tick_committed(0.1, engine)
    pairings: list[tuple[str, str]] = []
    async with Journal(path) as journal:
        sessions = await recover_sessions(
            journal, ServerSettings(), None, lambda *pairing: pairings.append(pairing)
        )
    (session,) = sessions
    (member,) = session.members
    assert (member.pid, member.name, member.connection) == ("p1", "Lyra", None)
    assert member.token_digest == token_hash("the-token")
    assert member.last_cid == 7
    assert session.engine.state.seq == 1
    assert [m.name for m in session.engine.state.motifs] == ["moon"]
    assert pairings == [("pod-lyra", "commons/p1")]


def test_a_remembered_pairing_holds_for_a_device_heard_before_or_after() -> None:
    registry = DeviceRegistry()
    birth = DeviceBirth(
        kind="pod", model="Pod", firmware="1", bd_seq=0, sample_hz=5, sensors=(), actions=()
    )
    registry.remember_owner("pod-lyra", "commons/p1")
    assert registry.on_birth("pod-lyra", birth).owner == "commons/p1"
    registry.on_birth("fabric-kai", birth)
    registry.remember_owner("fabric-kai", "commons/p2")
    assert registry.devices["fabric-kai"].owner == "commons/p2"


async def test_durable_commits_at_once_one_commit_for_all_who_wait_together(
    tmp_path: Path,
) -> None:
    """Joins that wait together share one commit, made without a tick; an acknowledgement
    alone waits for the tick's commit."""
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        commits = journal.stats.commits

        async def join(n: int) -> int:
            log.record(ParticipantJoined(participant=f"p{n}", name=f"N{n}", role="dreamer"))
            await log.durable()
            return journal.durable_seq

        seen = await asyncio.gather(*(join(n) for n in range(1, 21)))
        assert journal.stats.commits == commits + 1
        assert seen == [journal.last_seq] * 20  # each returned with all twenty on disk
        log.record(contribution(1))
        released: list[bool] = []
        log.when_durable(released.append)
        await asyncio.sleep(0)
        assert released == []
        assert journal.stats.commits == commits + 1
        assert await log.tick_committed(0.1, DreamEngine(VENUE, "commons"))
        assert released == [True]


async def test_durable_during_a_commit_commits_right_after_it_with_what_came_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is recorded while a commit writes is not in it: a ``durable()`` for it commits
    again as soon as that one is done, not at the next tick."""
    writing = threading.Event()
    go_on = threading.Event()

    def write_batch(conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int) -> None:
        writing.set()
        go_on.wait()
        batch.write_batch(conn, rows, keep_snapshots=keep_snapshots)

    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        monkeypatch.setattr(store, "write_batch", write_batch)
        log.record(JOINED)
        first = asyncio.create_task(log.durable())
        await asyncio.to_thread(writing.wait)  # the first commit writes, and holds
        late = ParticipantJoined(participant="p2", name="Kai", role="dreamer")
        log.record(late)
        second = asyncio.create_task(log.durable())
        go_on.set()
        await asyncio.gather(first, second)
        assert journal.durable_seq == journal.last_seq == 2
        assert journal.stats.commits == 2
        assert journal.stats.events_committed == 2


def joining(log: SessionJournal) -> Callable[[], asyncio.Task[None]]:
    """A join at each call: its event recorded, then ``durable()`` as a task."""
    numbers = itertools.count(1)

    def join() -> asyncio.Task[None]:
        n = next(numbers)
        log.record(ParticipantJoined(participant=f"p{n}", name=f"N{n}", role="dreamer"))
        return asyncio.create_task(log.durable())

    return join


async def test_in_a_rush_joins_that_come_one_by_one_share_the_next_paced_commit(
    tmp_path: Path,
) -> None:
    """After a commit that released more than one join, the next waits until ``rush_pace_s``
    after it began: five joins 10 ms apart (five commits, unpaced) make one."""
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100, rush_pace_s=1.0)
        join = joining(log)
        await asyncio.gather(join(), join())  # a rush: one commit released two
        commits = journal.stats.commits
        late = []
        for _ in range(5):
            late.append(join())
            await asyncio.sleep(0.01)
        assert not any(task.done() for task in late)
        await asyncio.gather(*late)
        assert journal.stats.commits == commits + 1
        assert journal.durable_seq == journal.last_seq


async def test_a_lone_join_commits_at_once_whatever_the_pace(tmp_path: Path) -> None:
    """A commit that released one join (or none: a tick's) is no rush: the next join does
    not wait for the pace (an hour here)."""
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100, rush_pace_s=3600)
        join = joining(log)
        await asyncio.wait_for(join(), 10)
        await asyncio.wait_for(join(), 10)  # the last commit released one
        assert await log.tick_committed(0.1, DreamEngine(VENUE, "commons"))
        await asyncio.wait_for(join(), 10)  # the last commit released none
        assert journal.stats.commits == 4


async def test_durable_is_refused_when_its_commit_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_batch(conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        monkeypatch.setattr(store, "write_batch", write_batch)
        log.record(JOINED)
        with pytest.raises(NotAllowed) as refused:
            await log.durable()
        assert refused.value.code is ErrorCode.JOURNAL_UNAVAILABLE
        assert not log.writable
        monkeypatch.undo()
        assert await log.tick_committed(0.1, DreamEngine(VENUE, "commons"))  # the tick retries it
        assert journal.durable_seq == journal.last_seq == 2


async def test_acks_go_out_with_the_commit_or_become_refusals_naming_their_cid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = filling_disk(monkeypatch, full=False)
    engine = DreamEngine(VENUE, "commons")
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        sent: list[Ack | NotAllowed] = []
        for event in (JOINED, contribution(1)):
            engine.apply(event)
            log.record(event)
        log.acknowledge(Ack(cid=1), sent.append)
        assert sent == []
        assert await log.tick_committed(0.1, engine)
        assert sent == [Ack(cid=1)]
        log.acknowledge(Ack(cid=2), sent.append)  # nothing new recorded: durable already
        assert sent[-1] == Ack(cid=2)
        full[0] = True
        log.record(contribution(3))
        log.acknowledge(Ack(cid=3), sent.append)
        assert not await log.tick_committed(0.2, engine)
        refusal = sent[-1]
        assert isinstance(refusal, NotAllowed)
        assert (refusal.code, refusal.ref) == (ErrorCode.JOURNAL_UNAVAILABLE, 3)
        assert log.refused_acks == 1


async def test_a_slow_commit_never_holds_up_the_ticks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = threading.Event()

    def write_batch(conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int) -> None:
        held.wait(10)  # the disk stalls until the test lets it go
        batch.write_batch(conn, rows, keep_snapshots=keep_snapshots)

    monkeypatch.setattr(store, "write_batch", write_batch)
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        session = DreamSession("commons", VENUE, journal=log)
        running = asyncio.create_task(session.run())
        try:
            await eventually(lambda: session.stats.ticks >= 4, "four ticks, a commit held")
            assert journal.stats.commits == 0
            held.set()
            await eventually(lambda: journal.durable_seq >= 4, "the ticks since committed")
        finally:
            held.set()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
