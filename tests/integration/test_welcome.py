"""The welcome, built whole in one place: who you are, the host's join code, and how long a
whisper this server takes; and ``DreamSession.join`` hands back the member it admitted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import InvalidField
from dreamcommons.contracts.protocol import (
    MAX_WHISPER_CHARS,
    Encoding,
    Join,
    Welcome,
    decode_client,
    decode_server,
    encode,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, ParticipantJoined
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import Journal, RecoveredMember, participant_with_token
from dreamcommons.server.journal.reading import iter_events
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.replay_server import ReplayServer
from dreamcommons.server.session import Admission, DreamSession
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.recorded_nights import write_night

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons")


async def welcome_from(port: int, join: Join) -> Welcome:
    """Join over a real socket and return the welcome, as a client decodes it."""
    url = f"ws://127.0.0.1:{port}/{join.session}"
    async with connect(url, subprotocols=[Encoding.MSGPACK.value]) as ws:  # type: ignore[list-item]
        await ws.send(encode(join, Encoding.MSGPACK))
        async with asyncio.timeout(within(5)):
            reply = decode_server(await ws.recv(), Encoding.MSGPACK)
    assert isinstance(reply, Welcome), reply
    return reply


@contextlib.asynccontextmanager
async def serving(
    session: DreamSession, admissions: list[Admission], host_code: str | None = None
) -> AsyncIterator[int]:
    """A real socket straight to ``session`` (no gateway): each connection's join admitted
    (a host's with ``host_code``), kept in ``admissions``, and answered with its welcome."""

    async def handler(connection: ServerConnection) -> None:
        join = decode_client(await connection.recv(), Encoding.MSGPACK)
        assert isinstance(join, Join)
        code = host_code if join.role == "host" else None
        admitted = await session.join(join, connection, Encoding.MSGPACK, join_code=code)
        admissions.append(admitted)
        try:
            await connection.send(encode(admitted.welcome, Encoding.MSGPACK))
            await connection.wait_closed()
        finally:
            session.disconnect(admitted.member, connection)

    async with serve(handler, "127.0.0.1", 0) as server:
        yield next(iter(server.sockets)).getsockname()[1]


@pytest.fixture
async def short_whispers() -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, max_whisper_chars=40, open_sessions=("*",))
    async with DreamServer(settings, VENUE) as server:
        yield server


async def test_the_welcome_tells_the_servers_whisper_limit_and_the_host_its_code(
    short_whispers: DreamServer,
) -> None:
    server = short_whispers
    dreamer = await welcome_from(server.port, Join(session="commons", name="Lyra"))
    host = await welcome_from(
        server.port,
        Join(session="commons", name="Ada", role="host", key=server.settings.host_key),
    )
    assert dreamer.whisper_max == host.whisper_max == 40
    url = f"ws://127.0.0.1:{server.port}/commons"
    async with DreamClient(url, "Ada", role="host", key=server.settings.host_key) as client:
        assert client.whisper_max == 40
        assert client.join_code == server.gatekeeper.join_code("commons")
    assert dreamer.join_code is None
    assert host.join_code == server.gatekeeper.join_code("commons")
    admitted = server.sessions["commons"].member(host.participant)
    assert admitted is not None
    assert admitted.role == "host"


@pytest.fixture
async def night(tmp_path: Path) -> Path:
    journal = tmp_path / "night.sqlite"
    await write_night(journal, seconds=2.0)
    return journal


async def test_a_replays_welcome_takes_no_whispers(night: Path) -> None:
    replay = ReplayServer(night, "commons", "127.0.0.1", 0)
    await replay.start()
    try:
        welcome = await welcome_from(replay.port, Join(session="commons", name="Kai"))
    finally:
        await replay.close()
    assert welcome.participant == "replay"
    assert welcome.whisper_max == 0


async def test_a_replay_refuses_a_v1_client_naming_v2_and_carries_the_half_life(
    night: Path,
) -> None:
    replay = ReplayServer(night, "commons", "127.0.0.1", 0)
    await replay.start()
    try:
        url = f"ws://127.0.0.1:{replay.port}/commons"
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, subprotocols=[Subprotocol("dreamcommons.v1.json")])
        welcome = await welcome_from(replay.port, Join(session="commons", name="Kai"))
    finally:
        await replay.close()
    assert refused.value.response.status_code == 400
    assert b"dreamcommons.v2.json" in refused.value.response.body
    assert welcome.state is not None
    assert welcome.state.half_life_s == VENUE.half_life_s  # what clients decay weights with


def test_a_welcome_from_an_older_server_means_the_protocols_bound() -> None:
    older = {
        "type": "welcome",
        "participant": "p1",
        "resume": "token",
        "tick_hz": 10.0,
        "state": DreamEngine(VENUE, "commons").state.model_dump(mode="json"),
    }
    welcome = decode_server(encode(Welcome.model_validate(older), Encoding.JSON), Encoding.JSON)
    assert isinstance(welcome, Welcome)
    assert welcome.whisper_max == MAX_WHISPER_CHARS


def test_a_welcome_from_a_newer_server_decodes_without_its_new_fields() -> None:
    state = DreamEngine(VENUE, "commons").state.model_dump(mode="json")
    state["motifs"] = [
        {
            "name": "moon",
            "colour": "#aabbcc",
            "weight": 1.0,
            "intensity": 0.5,
            "valence": 0.0,
            "arousal": 0.5,
            "x": 0.5,
            "y": 0.5,
            "phase": 0.25,
            "t": 0.0,
            "spin": 3,
        }
    ]
    newer = {
        "type": "welcome",
        "participant": "p1",
        "resume": "token",
        "tick_hz": 10.0,
        "state": state,
        "aurora": {"hue": 0.2},
    }
    for encoding in Encoding:
        frame = json.dumps(newer) if encoding is Encoding.JSON else msgpack.packb(newer)
        welcome = decode_server(frame, encoding)
        assert isinstance(welcome, Welcome)
        assert welcome.state is not None
        assert welcome.state.motifs[0].name == "moon"


def test_a_client_frame_with_a_field_the_server_does_not_know_is_refused() -> None:
    frame = json.dumps({"type": "whisper", "cid": 1, "text": "hello", "loud": True})
    with pytest.raises(InvalidField, match="loud"):
        decode_client(frame, Encoding.JSON)


async def test_join_returns_the_member_it_admitted_new_or_resumed() -> None:
    """Over a real socket, straight to a session: the admission holds the member and its
    complete welcome, the same member object when it comes back with its token."""
    session = DreamSession("commons", VENUE, whisper_max=64)
    admissions: list[Admission] = []
    async with serving(session, admissions, host_code="JOINCODE") as port:
        first = await welcome_from(port, Join(session="commons", name="Lyra"))
        again = await welcome_from(port, Join(session="commons", name="Lyra", resume=first.resume))
        host = await welcome_from(port, Join(session="commons", name="Ada", role="host"))

    new, resumed, hosting = admissions
    assert new.member is session.member(first.participant)
    assert resumed.member is new.member
    assert (new.welcome, resumed.welcome.participant) == (first, first.participant)
    assert hosting.member.role == "host"
    assert hosting.welcome.join_code == host.join_code == "JOINCODE"
    assert first.join_code is None
    assert {first.whisper_max, again.whisper_max, host.whisper_max} == {64}


async def test_participant_ids_are_hex_and_never_reuse_a_recovered_decimal_one() -> None:
    """Ids are short on the wire (every delta's ``applied`` names them): the 17th member is
    p11. A journal written when ids were decimal is read without giving out one of its ids
    again: after p99 (read as hex, 0x99), the next new member is p9a."""
    session = DreamSession("commons", VENUE)
    async with serving(session, []) as port:
        ids = [(await welcome_from(port, Join(session="commons", name=f"N{i}"))).participant
               for i in range(17)]  # fmt: skip
        assert ids[:2] == ["p1", "p2"]
        assert ids[9:] == ["pa", "pb", "pc", "pd", "pe", "pf", "p10", "p11"]
        session.readmit(RecoveredMember("p99", "Old", "dreamer", "0" * 64))
        after = await welcome_from(port, Join(session="commons", name="New"))
    assert after.participant == "p9a"
    assert session.member("p99") is not None


async def test_a_welcome_waits_for_its_join_on_disk_and_for_no_tick(tmp_path: Path) -> None:
    """A journaled session that does not tick (no ``run()``) welcomes all the same: each join
    is committed at once, and when a welcome arrives the journal file holds that member, with
    the hash of the resume token the welcome carries, and the event that made them join."""
    path = tmp_path / "dreams.sqlite"
    async with Journal(path) as journal:
        durable = SessionJournal(journal, "commons", VENUE, snapshot_every=100)
        session = DreamSession("commons", VENUE, journal=durable)
        async with serving(session, []) as port:
            names = ("Lyra", "Kai", "Ada", "Eamon")
            welcomes = await asyncio.gather(
                *(welcome_from(port, Join(session="commons", name=name)) for name in names)
            )
            with contextlib.closing(connect_reader(path)) as conn:
                joined = {
                    event.participant
                    for _, _, event in iter_events(conn, "commons")
                    if isinstance(event, ParticipantJoined)
                }
                owners = [participant_with_token(conn, "commons", w.resume) for w in welcomes]
    assert owners == [welcome.participant for welcome in welcomes]
    assert joined == set(owners)
    for welcome in welcomes:
        assert welcome.state is not None
        assert welcome.state.seq == 0  # before any tick: the state every first delta follows
