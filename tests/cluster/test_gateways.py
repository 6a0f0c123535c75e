"""Gateways and an engine on a real NATS, as real processes: a participant on one gateway sees
another's contribution, made on the other gateway, in the same delta sequence; acks and
refusals come back through the owner; a join with no engine is ``session_moving``; a client
resumes by sequence on the other gateway with exactly the deltas it missed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import (
    Ack,
    AnyServerMessage,
    Contribute,
    Delta,
    DreamscapeState,
    Encoding,
    ErrorFrame,
    Join,
    Ping,
    Pong,
    Since,
    Snapshot,
    Welcome,
    decode_server,
    encode,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.cluster import NatsProcess, SessionLog
from dreamcommons.server.cluster import connect as connect_nats
from dreamcommons.server.engine.events import MotifContributed
from dreamcommons.server.journal.codec import Tick
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK
from dreamcommons.server.journal.snapshots import decode_snapshot
from tests.cluster.nodes import get_json, node
from tests.conftest import within

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ENCODING = Encoding.MSGPACK


@dataclass(frozen=True, slots=True)
class Cluster:
    nats_url: str
    gateway_a: str
    gateway_b: str
    engine_id: str
    engine_pid: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """A NATS, one engine (a snapshot every half second) and two gateways, sharing one state
    directory (one secret)."""
    root = tmp_path_factory.mktemp("cluster")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DREAMCOMMONS_SNAPSHOT_EVERY_S", "0.5")
        async with (
            NatsProcess(store_dir=root / "nats") as nats,
            node(nats, "engine", root / "state") as engine,
            node(nats, "gateway", root / "state") as gateway_a,
            node(nats, "gateway", root / "state") as gateway_b,
        ):
            engine_id = (await engine.health())["cluster"]["node"]
            yield Cluster(nats.url, gateway_a.url, gateway_b.url, engine_id, engine.process.pid)


@dataclass(slots=True)
class Follower:
    """A raw connection that joined: its state as it applies each delta, each delta's frame
    by seq, and every other frame (acks, errors) in order."""

    ws: ClientConnection
    welcome: Welcome
    state: DreamscapeState | None
    frames: dict[int, bytes] = field(default_factory=dict)
    replies: asyncio.Queue[AnyServerMessage] = field(default_factory=asyncio.Queue)
    seqs: list[int] = field(default_factory=list)
    advanced: asyncio.Event = field(default_factory=asyncio.Event)
    applied: dict[str, int] = field(default_factory=dict)  # the last cid applied, by pid

    async def follow(self) -> None:
        async for frame in self.ws:
            assert isinstance(frame, bytes)
            message = decode_server(frame, ENCODING)
            if isinstance(message, Snapshot):  # a state, and the seqs go on from it
                self.state = message.state
                self.seqs.append(message.state.seq)
                await self.replies.put(message)
            elif isinstance(message, Delta):
                if self.seqs:
                    assert message.seq == self.seqs[-1] + 1, "a gap or a duplicate"
                self.seqs.append(message.seq)
                self.frames[message.seq] = frame
                self.applied.update(message.applied)
                if self.state is not None:
                    self.state = self.state.apply(message)
                self.advanced.set()
            else:
                await self.replies.put(message)

    async def reply(self) -> AnyServerMessage:
        async with asyncio.timeout(within(5)):
            return await self.replies.get()

    async def until(self, seq: int) -> None:
        await self.until_true(lambda: bool(self.seqs) and self.seqs[-1] >= seq)

    async def until_true(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(within(10)):
            while not done():
                self.advanced.clear()
                await self.advanced.wait()


def motif_names(state: DreamscapeState | None) -> set[str]:
    return set() if state is None else {m.name for m in state.motifs}


async def first_frame(ws: ClientConnection) -> AnyServerMessage:
    async with asyncio.timeout(within(10)):
        return decode_server(await ws.recv(), ENCODING)


@contextlib.asynccontextmanager
async def following(url: str, join: Join) -> AsyncIterator[Follower]:
    async with connect(f"{url}/{join.session}", subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
        await ws.send(encode(join, ENCODING))
        welcome = await first_frame(ws)
        assert isinstance(welcome, Welcome), welcome
        follower = Follower(ws, welcome, welcome.state)
        task = asyncio.get_running_loop().create_task(follower.follow())
        try:
            yield follower
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task  # a gap or a duplicate it saw fails the test here


async def test_a_contribution_on_one_gateway_reaches_the_other_in_the_same_sequence(
    cluster: Cluster,
) -> None:
    lyra_join = Join(session="tides", name="Lyra")
    zara_join = Join(session="tides", name="Zara")
    async with (
        following(cluster.gateway_a, lyra_join) as lyra,
        following(cluster.gateway_b, zara_join) as zara,
    ):
        await zara.ws.send(encode(Contribute(cid=7, motif="river", intensity=0.9), ENCODING))
        assert await zara.reply() == Ack(cid=7)
        await lyra.until_true(lambda: "river" in motif_names(lyra.state))
        seq = lyra.seqs[-1] + 2
        await lyra.until(seq)
        await zara.until(seq)
    assert lyra.welcome.participant != zara.welcome.participant
    shared = set(lyra.frames) & set(zara.frames)
    assert seq in shared
    assert all(lyra.frames[s] == zara.frames[s] for s in shared)  # the owner's bytes, as they were
    assert zara.state is not None
    assert {p.name for p in zara.state.participants} >= {"Lyra", "Zara"}


async def test_contributions_sent_at_once_are_applied_and_acknowledged_in_order(
    cluster: Cluster,
) -> None:
    """Frames sent one after the other without waiting reach the owner, and come back
    acknowledged, in the order sent."""
    async with following(cluster.gateway_a, Join(session="eddies", name="Oona")) as oona:
        motifs = ("river", "moon", "lantern", "owl", "tide", "meadow")
        for cid, motif in enumerate(motifs, 1):
            await oona.ws.send(encode(Contribute(cid=cid, motif=motif), ENCODING))
        acks = [await oona.reply() for _ in motifs]
        assert acks == [Ack(cid=cid) for cid in range(1, len(motifs) + 1)]
        me = oona.welcome.participant
        await oona.until_true(lambda: oona.state is not None and oona.applied.get(me) == 6)
        await oona.until_true(lambda: set(motifs) <= motif_names(oona.state))


async def test_a_gateway_reads_the_next_frame_while_the_owner_has_not_answered(
    cluster: Cluster,
) -> None:
    """As in one process, where an ack waits for the journal and the next frame does not: a
    contribution the owner has not answered yet holds up nothing else of the connection."""
    async with following(cluster.gateway_a, Join(session="pools", name="Ines")) as ines:
        os.kill(cluster.engine_pid, signal.SIGSTOP)  # the owner hears nothing for a moment
        try:
            await ines.ws.send(encode(Contribute(cid=1, motif="heron"), ENCODING))
            await ines.ws.send(encode(Ping(n=5), ENCODING))
            async with asyncio.timeout(1.5):  # well inside the lease's 3 s
                first = await ines.replies.get()
        finally:
            os.kill(cluster.engine_pid, signal.SIGCONT)
        assert first == Pong(n=5)  # answered by the gateway, the contribution still out
        assert await ines.reply() == Ack(cid=1)
        await ines.until_true(lambda: "heron" in motif_names(ines.state))


async def test_a_refusal_of_the_owner_comes_back_with_its_code(cluster: Cluster) -> None:
    async with DreamClient(f"{cluster.gateway_b}/tides", "Kai", role="watcher") as kai:
        with pytest.raises(Refused) as refused:
            await kai.contribute("moon")
        assert refused.value.code is ErrorCode.FORBIDDEN
        seq = kai.state.seq  # the connection goes on
        await kai.wait_for(lambda s: s.seq > seq, within(5))


async def test_a_client_resumes_by_sequence_on_the_other_gateway(cluster: Cluster) -> None:
    watcher = Join(session="harbour", name="Kai", role="watcher")
    async with following(cluster.gateway_b, watcher) as kai:
        async with following(cluster.gateway_a, Join(session="harbour", name="Lyra")) as lyra:
            assert lyra.welcome.state is not None
            await lyra.until(lyra.welcome.state.seq + 3)
            held, token = lyra.state, lyra.welcome.resume
        assert held is not None
        await kai.until(held.seq + 5)  # deltas Lyra missed while away
        since = Since(epoch=held.epoch, seq=held.seq)
        back = Join(session="harbour", name="Lyra", resume=token, since=since)
        async with following(cluster.gateway_b, back) as again:
            assert again.welcome.state is None
            assert again.welcome.resumed_from == held.seq
            await again.until(held.seq + 8)
            await kai.until(held.seq + 8)
        assert again.seqs[0] == held.seq + 1  # the replay starts right after what she held
        assert all(again.frames[s] == kai.frames[s] for s in again.seqs if s in kai.frames)
        state = held
        for s in again.seqs:
            state = state.apply(decode_server(again.frames[s], ENCODING))  # type: ignore[arg-type]
        assert state.seq == again.seqs[-1]


async def test_joins_at_once_to_a_new_session_are_all_welcomed(cluster: Cluster) -> None:
    """The first join has the session claimed; the others, on both gateways, find its lease
    while its owner is still opening it, and wait for it rather than being sent away."""
    urls = [cluster.gateway_a, cluster.gateway_b]
    clients = [DreamClient(f"{urls[n % 2]}/crowded", f"Crowd {n}") for n in range(40)]
    try:
        await asyncio.gather(*(client.start() for client in clients))
        assert all(client.state.seq >= 0 for client in clients)
        assert len({client.participant for client in clients}) == len(clients)
    finally:
        await asyncio.gather(*(client.close() for client in clients))


async def test_every_gateway_lists_the_sessions_the_cluster_owns(cluster: Cluster) -> None:
    """``/sessions.json`` of a gateway: the sessions of the leases, each with its owner, and
    the people connected through that gateway."""
    async with DreamClient(f"{cluster.gateway_a}/listed", "Ola"):
        on_a = await get_json(cluster.gateway_a, "/sessions.json")
        on_b = await get_json(cluster.gateway_b, "/sessions.json")
    listed_a = {s["id"]: s for s in on_a["sessions"]}["listed"]
    listed_b = {s["id"]: s for s in on_b["sessions"]}["listed"]
    assert listed_a["owner"] == listed_b["owner"] == cluster.engine_id
    assert (listed_a["people"], listed_b["people"]) == (1, 0)
    assert listed_a["venue"] == listed_b["venue"] == "sleep-commons"
    assert on_a["replay"] is False


async def test_a_join_with_no_engine_is_told_the_session_is_moving(tmp_path: Path) -> None:
    async with (
        NatsProcess(store_dir=tmp_path / "nats") as nats,
        node(nats, "gateway", tmp_path / "state") as gateway,
        connect(f"{gateway.url}/tides", subprotocols=[ENCODING.value]) as ws,  # type: ignore[list-item]
    ):
        await ws.send(encode(Join(session="tides", name="Lyra"), ENCODING))
        refused = await first_frame(ws)
        assert isinstance(refused, ErrorFrame), refused
        assert refused.code is ErrorCode.SESSION_MOVING
        await ws.send(encode(Ping(n=1), ENCODING))  # the connection goes on
        assert await first_frame(ws) == Pong(n=1)


async def test_an_acknowledged_contribution_is_in_the_cluster_s_log(cluster: Cluster) -> None:
    async with DreamClient(f"{cluster.gateway_a}/dunes", "Mia") as mia:
        cid = await mia.contribute("lantern")
        await mia.wait_for(lambda s: s.t > 1.0, within(5))  # two snapshots are due by then
    nc = await connect_nats(cluster.nats_url, name="test")
    try:
        session_log = await SessionLog.open(nc)
        logged = [logged async for logged in session_log.read_after("dunes", 0)]
        snapshot = await session_log.load_snapshot("dunes")
    finally:
        await nc.close()
    contributed = [e for _, e in logged if isinstance(e, MotifContributed)]
    assert [(e.motif, e.cid) for e in contributed] == [("lantern", cid)]
    assert snapshot is not None
    blob, log_seq = snapshot
    ticks = {position: e.t for position, e in logged if isinstance(e, Tick)}
    assert log_seq in ticks  # a snapshot follows the tick it was taken at
    engine = decode_snapshot(SNAPSHOT_MSGPACK, blob, load_venue("sleep-commons"))
    assert engine.state.t == pytest.approx(ticks[log_seq], abs=1e-3)
