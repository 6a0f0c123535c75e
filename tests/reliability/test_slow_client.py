"""A client that stops reading holds up nobody: its queue is bounded; it is brought back with a
snapshot when it reads again soon enough, and dropped with a clear close code when not."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Callable

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import CloseCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.session import DreamSession
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration

BOUND = 16 * 1024


async def server_with_grace(grace_s: float) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(
        port=0,
        slow_client_bytes=BOUND,
        slow_client_grace_s=grace_s,
        socket_send_bytes=4096,
        open_sessions=("*",),
        contributions_per_s=100_000,
        contribution_burst=100_000,
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture
async def impatient() -> AsyncIterator[DreamServer]:
    async for server in server_with_grace(1.0):
        yield server


@pytest.fixture
async def patient() -> AsyncIterator[DreamServer]:
    async for server in server_with_grace(60.0):
        yield server


async def small_window_client(port: int) -> ClientConnection:
    """A msgpack client with a tiny receive buffer, joined, so its backlog shows fast."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    ws = await connect(
        f"ws://127.0.0.1:{port}/commons",
        sock=sock,
        subprotocols=[Encoding.MSGPACK.value],  # type: ignore[list-item]
    )
    await ws.send(msgpack.packb({"type": "join", "session": "commons", "name": "Sloth"}))
    welcome = msgpack.unpackb(await ws.recv())
    assert welcome["type"] == "welcome"
    return ws


@contextlib.asynccontextmanager
async def a_busy_dream(url: str) -> AsyncIterator[DreamClient]:
    """A dreamer who fills the scene with motifs and keeps raising new ones, so that every
    tick's delta is large: a delta carries the motifs that changed (a new one whole, a weaker
    one removed), not those that moved, and a weight only once it strays from what clients
    extrapolate, so raising the same motifs again would weigh little."""
    async with DreamClient(url, "Lyra") as dreamer:
        for n in range(48):
            await dreamer.contribute(f"motif-{n}", intensity=1.0)

        async def keep_raising() -> None:
            fresh = itertools.count(48)
            while True:
                for n in itertools.islice(fresh, 48):
                    await dreamer.contribute(f"motif-{n}", intensity=1.0, wait=False)
                await asyncio.sleep(0.05)

        raising = asyncio.create_task(keep_raising(), name="keep-raising")
        try:
            yield dreamer
        finally:
            raising.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await raising


async def read_until_closed(ws: ClientConnection) -> None:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed:
        return


async def follow_until(
    client: DreamClient, session: DreamSession, condition: Callable[[DreamSession], bool]
) -> int:
    """Follow ``client``'s states until the session meets ``condition``; how many it saw."""
    seen = 0
    async with asyncio.timeout(within(30)):
        async for _ in client.states():
            seen += 1
            if condition(session):
                return seen
    raise AssertionError("the client's states ended")


async def test_a_client_that_stops_reading_is_dropped_and_nobody_waits(
    impatient: DreamServer,
) -> None:
    url = f"ws://127.0.0.1:{impatient.port}/commons"
    slow = await small_window_client(impatient.port)
    slow.transport.pause_reading()
    try:
        async with a_busy_dream(url) as dreamer, DreamClient(url, "Zara") as zara:
            session = impatient.sessions["commons"]
            seen = await follow_until(zara, session, lambda s: s.fanout.stats.dropped == 1)
            assert seen > 1
            assert zara.resyncs == 0  # every delta came, in order, while the other lagged
            assert session.fanout.stats.behind == 1
            await dreamer.contribute("moon")
        slow.transport.resume_reading()
        async with asyncio.timeout(within(15)):
            await read_until_closed(slow)
        assert slow.close_code == CloseCode.SLOW_CONSUMER
    finally:
        await slow.close()


@contextlib.asynccontextmanager
async def a_reader_behind(
    server: DreamServer,
) -> AsyncIterator[tuple[ClientConnection, DreamClient, DreamSession]]:
    """A reader that stopped reading while a busy dream goes on, once the session counts it
    behind; with Zara, a reader that keeps up, and the session."""
    url = f"ws://127.0.0.1:{server.port}/commons"
    slow = await small_window_client(server.port)
    slow.transport.pause_reading()
    try:
        async with a_busy_dream(url), DreamClient(url, "Zara") as zara:
            session = server.sessions["commons"]
            await follow_until(zara, session, lambda s: s.fanout.stats.behind == 1)
            yield slow, zara, session
    finally:
        await slow.close()


async def test_a_client_that_reads_again_soon_is_resynced_with_a_snapshot(
    patient: DreamServer,
) -> None:
    async with a_reader_behind(patient) as (slow, zara, session):
        slow.transport.resume_reading()
        async with asyncio.timeout(within(15)):
            while (frame := msgpack.unpackb(await slow.recv()))["type"] != "snapshot":
                pass
            after = msgpack.unpackb(await slow.recv())
        assert session.fanout.stats.resynced == 1
        assert session.fanout.stats.dropped == 0
        assert after["type"] == "delta"
        assert after["seq"] == frame["state"]["seq"] + 1
        assert zara.resyncs == 0


async def test_a_slow_reader_that_asks_for_a_snapshot_gets_one_not_two(
    patient: DreamServer,
) -> None:
    """A resync sent while behind is answered by the snapshot of catching up, not queued."""
    async with a_reader_behind(patient) as (slow, zara, session):
        await slow.send(msgpack.packb({"type": "resync"}))
        await follow_until(zara, session, lambda s: s.fanout.stats.folded == 1)
        slow.transport.resume_reading()
        snapshots = 0
        async with asyncio.timeout(within(15)):
            while (frame := msgpack.unpackb(await slow.recv()))["type"] != "delta" or (
                snapshots == 0
            ):
                snapshots += frame["type"] == "snapshot"
        assert snapshots == 1
        assert session.fanout.stats.snapshots == 0
        assert session.fanout.stats.resynced == 1
