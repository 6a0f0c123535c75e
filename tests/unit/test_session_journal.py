"""A session's journal: acknowledgements wait for the commit that makes them durable, a
failed commit refuses them, and a restart brings members and pairings back."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from dreamcommons.contracts.device_protocol import DeviceBirth
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.devices.registry import DeviceRegistry
from dreamcommons.server.engine import DreamEngine, MotifContributed, ParticipantJoined
from dreamcommons.server.journal import Journal, batch, store, token_hash
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.recovery import recover_sessions
from dreamcommons.server.settings import ServerSettings

VENUE = load_venue("sleep-commons")
JOINED = ParticipantJoined(participant="p1", name="Lyra", role="dreamer")


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
        assert await log.tick(0.1, engine)
        assert released == [True]
        log.when_durable(released.append)  # nothing new since: durable already
        assert released == [True, True]
        engine.tick(0.2)
        await log.tick(0.2, engine)
        assert journal.stats.snapshots_committed == 1


async def test_a_failed_commit_refuses_what_waited_until_the_journal_writes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = [True]

    def write_batch(conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int) -> None:
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        batch.write_batch(conn, rows, keep_snapshots=keep_snapshots)

    monkeypatch.setattr(store, "write_batch", write_batch)
    engine = DreamEngine(VENUE, "commons")
    async with Journal(tmp_path / "j.sqlite") as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        engine.apply(JOINED)
        log.record(JOINED)
        released: list[bool] = []
        log.when_durable(released.append)
        assert not await log.tick(0.1, engine)
        assert released == [False]
        assert not log.accepting
        assert log.refused_acks == 1
        full[0] = False
        assert await log.tick(0.2, engine)
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
        await log.tick(0.1, engine)
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
