"""Takeover on real processes: the engine that owns a session is killed (kill -9); once its
lease expired another engine owns the session, rebuilt from the cluster's log under a new
epoch with every acknowledged contribution, a client still connected to its gateway gets the
new owner's snapshot without being disconnected and goes on contributing, and a member who
had left resumes with their token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.protocol import State

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import (
    DreamscapeState,
    Encoding,
    ErrorFrame,
    Join,
    Snapshot,
    Welcome,
    decode_server,
    encode,
)
from dreamcommons.server.cluster import NatsProcess
from tests.cluster.nodes import Node, node
from tests.cluster.test_gateways import following, motif_names
from tests.conftest import within

pytestmark = pytest.mark.integration

ENCODING = Encoding.MSGPACK


async def welcome_once_owned(gateway: Node, name: str) -> Welcome:
    """Join, again and again while the session is moving, until a welcome comes."""
    async with asyncio.timeout(within(15)):
        while True:
            async with connect(f"{gateway.url}/isle", subprotocols=[ENCODING.value]) as ws:  # type: ignore[list-item]
                await ws.send(encode(Join(session="isle", name=name, role="watcher"), ENCODING))
                answer = decode_server(await ws.recv(), ENCODING)
            if isinstance(answer, Welcome):
                return answer
            assert isinstance(answer, ErrorFrame), answer
            assert answer.code is ErrorCode.SESSION_MOVING
            await asyncio.sleep(0.25)


def present(state: DreamscapeState, pid: str | None) -> bool:
    return any(p.id == pid and p.present for p in state.participants)


async def owner_of(engines: list[Node]) -> Node:
    owners = [e for e in engines if "isle" in (await e.health())["cluster"]["owns"]]
    assert len(owners) == 1, owners
    return owners[0]


@pytest.fixture
async def two_engines(tmp_path: Path) -> AsyncIterator[tuple[list[Node], Node]]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DREAMCOMMONS_SNAPSHOT_EVERY_S", "0.5")
        async with (
            NatsProcess(store_dir=tmp_path / "nats") as nats,
            node(nats, "engine", tmp_path / "state") as first,
            node(nats, "engine", tmp_path / "state") as second,
            node(nats, "gateway", tmp_path / "state") as gateway,
        ):
            yield [first, second], gateway


async def test_another_engine_takes_over_with_every_acknowledged_contribution(
    two_engines: tuple[list[Node], Node],
) -> None:
    engines, gateway = two_engines
    url = f"{gateway.url}/isle"
    watcher = Join(session="isle", name="Kai", role="watcher")
    async with following(gateway.url, watcher) as kai, DreamClient(url, "Lyra") as lyra:
        async with DreamClient(url, "Zara") as zara:
            await zara.contribute("lantern")
            await zara.whisper("before the fall")
            await zara.wait_for(lambda s: s.t > 1.2, within(5))  # a snapshot, and ticks after
            await zara.contribute("ember")  # only in the log's tail, after the last snapshot
            token, pid = zara.resume_token, zara.participant
        dead = await owner_of(engines)
        old_epoch = lyra.state.epoch
        await dead.kill()
        async with asyncio.timeout(within(10)):
            while True:  # with no join: the gateway heard nothing more and had it placed
                reply = await kai.replies.get()
                if isinstance(reply, Snapshot) and reply.state.epoch != old_epoch:
                    break
        assert kai.ws.state is State.OPEN  # the connection that stayed gets the new state
        new_epoch = reply.state.epoch
        welcome = await welcome_once_owned(gateway, "Mia")
        assert welcome.state is not None
        assert welcome.state.epoch == new_epoch
        assert "lantern" in motif_names(welcome.state)  # merged before the last snapshot
        assert [w.text for w in welcome.state.whispers] == ["before the fall"]
        survivor = await owner_of([e for e in engines if e is not dead])
        assert survivor is not dead
        # ember, acknowledged after the last snapshot, is merged at the new owner's next tick
        await kai.until_true(lambda: {"lantern", "ember"} <= motif_names(kai.state))
        zara_away = next(p for p in reply.state.participants if p.name == "Zara")
        assert not zara_away.present
        # Lyra stayed connected: her gateway joined her to the new owner by her token
        me = lyra.participant
        await lyra.wait_for(lambda s: s.epoch == new_epoch and present(s, me), within(10))
        await lyra.contribute("dawn")
        await kai.until_true(lambda: "dawn" in motif_names(kai.state))
        async with DreamClient(url, "Zara", resume=token) as again:
            assert again.participant == pid  # her token is kept in the cluster, as she is
            await again.wait_for(lambda s: present(s, pid), within(5))
