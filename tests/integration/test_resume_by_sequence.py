"""Resuming by sequence on a real server over loopback sockets: a client that says which state
it holds (``since``) gets a welcome without a state and exactly the deltas it missed, or, when
the session no longer holds them or the state is of another history, the full state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import CloseCode as WebSocketClose

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import (
    AnyServerMessage,
    Delta,
    DreamscapeState,
    Encoding,
    ErrorFrame,
    Join,
    Since,
    Welcome,
    decode_server,
    encode,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import free_port

pytestmark = pytest.mark.integration

ENCODING = Encoding.MSGPACK


@pytest.fixture
async def short_ring() -> AsyncIterator[DreamServer]:
    """A server whose sessions hold half a second of deltas (5 ticks)."""
    settings = ServerSettings(port=0, open_sessions=("*",), recent_deltas_s=0.5)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture(params=["in memory", "journaled"])
async def either_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DreamServer]:
    """A server without a journal, and one whose joins wait for a commit (the ticks go on
    meanwhile, and the replay must start where the welcome says all the same)."""
    journal = tmp_path / "dreams.sqlite" if request.param == "journaled" else None
    settings = ServerSettings(port=0, open_sessions=("*",), journal=journal)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


def url_of(server: DreamServer) -> str:
    return f"ws://127.0.0.1:{server.port}/commons"


async def receive(ws: ClientConnection) -> AnyServerMessage:
    async with asyncio.timeout(within(5)):
        return decode_server(await ws.recv(), ENCODING)


async def joined(ws: ClientConnection, join: Join) -> Welcome:
    await ws.send(encode(join, ENCODING))
    welcome = await receive(ws)
    assert isinstance(welcome, Welcome), welcome
    return welcome


def resumes(server: DreamServer, how: str) -> float:
    """``dreamcommons_resumes_total`` of ``how``, as ``/metrics`` shows it."""
    for line in server.metrics.render().decode().splitlines():
        if line.startswith(f'dreamcommons_resumes_total{{how="{how}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no resumes of {how} in /metrics")


async def a_dreamer_who_left(server: DreamServer) -> tuple[str, DreamscapeState]:
    """Lyra joins, follows a few deltas and leaves: her resume token and the state she held."""
    async with DreamClient(url_of(server), "Lyra") as lyra:
        await lyra.wait_for(lambda s: s.seq >= 3, within(5))
        state = lyra.state
        token = lyra.resume_token
    assert token is not None
    return token, state


async def test_a_returning_dreamer_gets_exactly_the_deltas_it_missed(
    either_server: DreamServer,
) -> None:
    dream_server = either_server
    url = url_of(dream_server)
    async with DreamClient(url, "Zara") as zara:
        token, held = await a_dreamer_who_left(dream_server)
        await zara.contribute("river", intensity=0.9)
        await zara.whisper("while you were away")
        await zara.wait_for(lambda s: len(s.whispers) == 1 and s.seq > held.seq + 5, within(5))
        assert held.epoch == zara.state.epoch
        async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
            since = Since(epoch=held.epoch, seq=held.seq)
            welcome = await joined(
                ws, Join(session="commons", name="Lyra", resume=token, since=since)
            )
            assert welcome.state is None
            assert welcome.resumed_from == held.seq
            state = held
            async with connect(url, subprotocols=[ENCODING.value]) as fresh_ws:  # type: ignore[list-item]
                fresh = await joined(fresh_ws, Join(session="commons", name="Kai", role="watcher"))
            assert fresh.state is not None
            while state.seq < fresh.state.seq:
                delta = await receive(ws)
                assert isinstance(delta, Delta), delta
                assert delta.seq == state.seq + 1  # no gap, no duplicate
                state = state.apply(delta)
    assert state == fresh.state
    assert "river" in {m.name for m in state.motifs}
    assert [w.text for w in state.whispers] == ["while you were away"]
    assert resumes(dream_server, "by_sequence") == 1
    assert resumes(dream_server, "full_state") == 0


async def test_the_reconnecting_client_resumes_by_sequence_after_a_drop(
    dream_server: DreamServer,
) -> None:
    url = url_of(dream_server)
    async with DreamClient(url, "Lyra", reconnect=True) as lyra, DreamClient(url, "Zara") as zara:
        seq = (await lyra.wait_for(lambda s: s.seq >= 3, within(5))).seq
        member = dream_server.sessions["commons"].member(lyra.participant)
        assert member is not None
        assert member.connection is not None
        await member.connection.close(WebSocketClose.GOING_AWAY, "network blip")
        await zara.contribute("owl")
        await lyra.wait_for(lambda _: lyra.reconnects == 1, within(10))
        state = await lyra.wait_for(lambda s: "owl" in {m.name for m in s.motifs}, within(5))
        assert lyra.resumes_by_sequence == 1
        assert lyra.resyncs == 0  # the deltas it missed came, in order, none twice
        assert state.seq > seq
        await zara.wait_for(lambda s: s.seq >= state.seq, within(5))
    assert resumes(dream_server, "by_sequence") == 1


async def test_deltas_that_outweigh_the_state_are_not_replayed_the_state_comes(
    dream_server: DreamServer,
) -> None:
    url = url_of(dream_server)
    async with DreamClient(url, "Zara") as zara:
        token, held = await a_dreamer_who_left(dream_server)
        session = dream_server.sessions["commons"]

        def outweighed(_: DreamscapeState) -> bool:
            missed = session.recent.after(ENCODING, held.seq, session.engine.state.seq)
            state = encode(session.snapshot(), ENCODING)
            return missed is not None and sum(len(frame) for frame in missed) > len(state)

        await zara.wait_for(outweighed, within(15))  # all still held, but more than the state
        async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
            since = Since(epoch=held.epoch, seq=held.seq)
            welcome = await joined(
                ws, Join(session="commons", name="Lyra", resume=token, since=since)
            )
            assert welcome.state is not None
            assert welcome.resumed_from is None
            delta = await receive(ws)
            assert isinstance(delta, Delta)
            assert delta.seq == welcome.state.seq + 1
    assert resumes(dream_server, "full_state") == 1
    assert resumes(dream_server, "by_sequence") == 0


@pytest.mark.parametrize(
    "where",
    ["another epoch", "older than the ring", "in the future"],
)
async def test_a_state_the_session_cannot_continue_gets_the_full_state(
    short_ring: DreamServer, where: str
) -> None:
    url = url_of(short_ring)
    async with DreamClient(url, "Zara") as zara:
        token, held = await a_dreamer_who_left(short_ring)
        now = await zara.wait_for(lambda s: s.seq > held.seq + 10, within(5))  # past 5 ticks
        since = {
            "another epoch": Since(epoch="an-older-history", seq=now.seq),
            "older than the ring": Since(epoch=held.epoch, seq=held.seq),
            "in the future": Since(epoch=held.epoch, seq=now.seq + 1000),
        }[where]
        async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
            welcome = await joined(
                ws, Join(session="commons", name="Lyra", resume=token, since=since)
            )
            assert welcome.state is not None
            assert welcome.resumed_from is None
            assert welcome.state.epoch == held.epoch
            delta = await receive(ws)
            assert isinstance(delta, Delta)
            assert delta.seq == welcome.state.seq + 1
    assert resumes(short_ring, "full_state") == 1
    assert resumes(short_ring, "by_sequence") == 0


async def test_an_encoding_nobody_listened_in_meanwhile_gets_the_full_state(
    dream_server: DreamServer,
) -> None:
    url = url_of(dream_server)
    async with DreamClient(url, "Zara") as zara:  # msgpack: the JSON frames stop with Lyra
        async with DreamClient(url, "Lyra", encoding=Encoding.JSON) as lyra:
            held = await lyra.wait_for(lambda s: s.seq >= 3, within(5))
            token = lyra.resume_token
        await zara.wait_for(lambda s: s.seq > held.seq + 3, within(5))
        async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
            since = Since(epoch=held.epoch, seq=held.seq)
            join = Join(session="commons", name="Lyra", resume=token, since=since)
            await ws.send(encode(join, Encoding.JSON))
            async with asyncio.timeout(within(5)):
                welcome = decode_server(await ws.recv(), Encoding.JSON)
            assert isinstance(welcome, Welcome)
            assert welcome.state is not None
            assert welcome.state.seq > held.seq + 3
    assert resumes(dream_server, "full_state") == 1


@pytest.mark.parametrize(
    "since",
    [{"epoch": "e", "seq": -1}, {"epoch": "x" * 33, "seq": 1}, {"epoch": "a b", "seq": 1}, 7],
)
async def test_a_nonsense_since_is_an_error_frame_and_the_connection_goes_on(
    dream_server: DreamServer, since: object
) -> None:
    url = url_of(dream_server)
    async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
        bad = {"type": "join", "session": "commons", "name": "Lyra", "since": since}
        await ws.send(encode_raw(bad))
        error = await receive(ws)
        assert isinstance(error, ErrorFrame), error
        assert error.code is ErrorCode.INVALID_FIELD
        assert "since" in error.message
        welcome = await joined(ws, Join(session="commons", name="Lyra"))
        assert welcome.state is not None


async def test_a_newcomers_since_is_not_heeded(dream_server: DreamServer) -> None:
    url = url_of(dream_server)
    _, held = await a_dreamer_who_left(dream_server)
    async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
        since = Since(epoch=held.epoch, seq=held.seq)
        welcome = await joined(ws, Join(session="commons", name="Mia", since=since))
        assert welcome.state is not None
    assert resumes(dream_server, "by_sequence") == resumes(dream_server, "full_state") == 0


async def test_a_watcher_resumes_by_sequence_without_a_token(dream_server: DreamServer) -> None:
    url = url_of(dream_server)
    async with DreamClient(url, "Zara"), DreamClient(url, "Kai", role="watcher") as kai:
        held = await kai.wait_for(lambda s: s.seq >= 3, within(5))
        async with connect(url, subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
            since = Since(epoch=held.epoch, seq=held.seq)
            welcome = await joined(
                ws, Join(session="commons", name="Kai", role="watcher", since=since)
            )
            assert welcome.state is None
            assert welcome.resumed_from == held.seq
            delta = await receive(ws)
            assert isinstance(delta, Delta)
            assert delta.seq == held.seq + 1


async def test_a_restarted_server_has_a_new_epoch_so_the_client_takes_the_full_state(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = ServerSettings(port=port, journal=tmp_path / "dreams.sqlite", open_sessions=("*",))
    url = f"ws://127.0.0.1:{port}/commons"
    venue = load_venue("sleep-commons")
    lyra = DreamClient(url, "Lyra", reconnect=True)
    try:
        async with DreamServer(settings, venue) as first:
            await lyra.start()
            await lyra.contribute("moon")
            before = await lyra.wait_for(lambda s: "moon" in {m.name for m in s.motifs}, within(5))
            first_epoch = first.sessions["commons"].epoch
            assert before.epoch == first_epoch
        async with DreamServer(settings, venue) as second:
            session = second.sessions["commons"]  # recovered from the journal
            assert session.epoch != first_epoch
            await lyra.wait_for(lambda _: lyra.reconnects == 1, within(15))
            state = await lyra.wait_for(lambda s: s.epoch == session.epoch, within(5))
            assert lyra.resumes_by_sequence == 0
            assert "moon" in {m.name for m in state.motifs}
            assert resumes(second, "full_state") == 1
    finally:
        await lyra.close()


def encode_raw(message: object) -> bytes:
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed
