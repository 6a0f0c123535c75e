"""The durable log on a real NATS: events in order and durable, the tail after a position,
snapshots of a real engine, all of it kept across a NATS restart."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.cluster import NatsProcess, SessionLog, connect
from dreamcommons.server.engine import (
    DreamEngine,
    Event,
    MotifContributed,
    ParticipantJoined,
    SleeperUpdated,
    engine_to_snapshot,
)
from dreamcommons.server.journal import JournalCorrupt, Tick
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK
from dreamcommons.server.journal.snapshots import decode_snapshot, encode_snapshot

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons")
KV_VALUE_LIMIT = 1024 * 1024  # NATS's default max_payload, which bounds a key-value value


def joined(n: int) -> ParticipantJoined:
    return ParticipantJoined(f"p{n}", f"dreamer {n}", "dreamer")


def engine_of(participants: int) -> DreamEngine:
    """A real session: everyone joined, half asleep and breathing, motifs raised, ticked."""
    engine = DreamEngine(VENUE, "commons")
    for n in range(1, participants + 1):
        engine.apply(joined(n))
    for t in range(1, 4):
        for n in range(1, participants + 1, 2):
            engine.apply(SleeperUpdated(f"p{n}", 2, 0.2, (n % 7) / 7, 0.2, float(t)))
        for n in range(1, participants + 1, 3):
            motif = ("moon", "tide", "owl", "lantern")[n % 4]
            engine.apply(MotifContributed(f"p{n}", t, motif, 0.7, 0.3, 0.4))
        engine.tick(float(t))
    return engine


@pytest.fixture
async def log(nats_client: Client) -> SessionLog:
    return await SessionLog.open(nats_client)


async def test_events_sent_together_are_stored_in_order_and_once_when_sent_again(
    log: SessionLog,
) -> None:
    events: list[Event | Tick] = [joined(n) for n in range(1, 41)]
    events.append(Tick(0.1))
    ids = [f"journal-{k}" for k in range(len(events))]
    last = await log.append_many("commons", events, ids)
    again = await log.append_many("commons", events[20:], ids[20:])  # a run retried
    assert again == last
    assert await log.last_seq("commons") == last
    read = [event async for _, event in log.read_after("commons", 0)]
    assert read == events


async def test_append_returns_growing_positions(log: SessionLog) -> None:
    positions = [await log.append("commons", joined(n)) for n in range(1, 6)]
    positions.append(await log.append("festival", joined(1)))
    positions.append(await log.append("commons", Tick(0.1)))
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert await log.last_seq("commons") == positions[-1]
    assert await log.last_seq("festival") == positions[-2]
    assert await log.last_seq("never-seen") == 0


async def test_read_after_gives_exactly_the_tail_of_the_session(log: SessionLog) -> None:
    events: list[Event | Tick] = [joined(1), joined(2), Tick(0.1), joined(3), Tick(0.2)]
    positions = []
    for event in events:
        positions.append(await log.append("commons", event))
        await log.append("festival", Tick(9.0))  # another session's, in between
    tail = [item async for item in log.read_after("commons", positions[1])]
    assert tail == list(zip(positions[2:], events[2:], strict=True))
    whole = [event async for _, event in log.read_after("commons", 0)]
    assert whole == events
    assert [item async for item in log.read_after("commons", positions[-1])] == []
    assert [item async for item in log.read_after("never-seen", 0)] == []


async def test_an_event_without_its_kind_is_reported_corrupt(
    log: SessionLog, jetstream: JetStreamContext
) -> None:
    await log.append("commons", joined(1))
    await jetstream.publish("dreamcommons.events.commons", b"\x80")
    with pytest.raises(JournalCorrupt, match="has no kind"):
        _ = [item async for item in log.read_after("commons", 0)]


async def test_a_snapshot_is_saved_and_loaded_with_its_position(log: SessionLog) -> None:
    assert await log.load_snapshot("commons") is None
    await log.save_snapshot("commons", b"first", 3)
    await log.save_snapshot("commons", b"second", 7)
    assert await log.load_snapshot("commons") == (b"second", 7)
    assert await log.load_snapshot("festival") is None


async def test_a_damaged_snapshot_record_is_reported_corrupt(log: SessionLog) -> None:
    await log.snapshots.put("commons", b"\xc1 not msgpack")
    with pytest.raises(JournalCorrupt, match="snapshot record damaged"):
        await log.load_snapshot("commons")


async def test_a_snapshot_of_2000_participants_round_trips(log: SessionLog) -> None:
    engine = engine_of(2000)
    blob = encode_snapshot(engine)
    upto = await log.append("commons", Tick(3.0))
    await log.save_snapshot("commons", blob, upto)
    loaded = await log.load_snapshot("commons")
    assert loaded is not None
    assert loaded == (blob, upto)
    rebuilt = decode_snapshot(SNAPSHOT_MSGPACK, loaded[0], VENUE)
    assert engine_to_snapshot(rebuilt) == engine_to_snapshot(engine)


async def test_a_snapshot_larger_than_a_key_value_value_round_trips(log: SessionLog) -> None:
    # 10,000 participants snapshot to about 1.6 MB: beyond what a key-value value may hold.
    blob = bytes(range(256)) * (2 * KV_VALUE_LIMIT // 256)
    await log.save_snapshot("commons", blob, 42)
    assert await log.load_snapshot("commons") == (blob, 42)


async def test_events_and_snapshots_survive_a_nats_restart(
    nats_server: NatsProcess, nats_client: Client, log: SessionLog
) -> None:
    events: list[Event | Tick] = [joined(1), Tick(0.1), joined(2)]
    positions = [await log.append("commons", event) for event in events]
    await log.save_snapshot("commons", b"snapshot", positions[1])
    await nats_client.close()
    await nats_server.stop()
    await nats_server.start()
    client = await connect(nats_server.url, name="after-restart")
    try:
        reopened = await SessionLog.open(client)
        assert await reopened.load_snapshot("commons") == (b"snapshot", positions[1])
        tail = [item async for item in reopened.read_after("commons", positions[1])]
        assert tail == [(positions[2], events[2])]
        assert await reopened.append("commons", Tick(0.2)) > positions[-1]
    finally:
        await client.close()
