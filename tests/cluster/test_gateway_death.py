"""A gateway killed (kill -9) under its connections: the owner, no longer hearing it, takes
its members for away, and a client resumes on the other gateway by sequence, with no gap and
no duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dreamcommons.contracts.protocol import Ack, DreamscapeState, Join, Since, Whisper, encode
from dreamcommons.server.cluster import NatsProcess
from tests.cluster.nodes import Node, node
from tests.cluster.test_gateways import ENCODING, following

pytestmark = pytest.mark.integration


@pytest.fixture
async def two_gateways(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with (
        NatsProcess(store_dir=tmp_path / "nats") as nats,
        node(nats, "engine", tmp_path / "state"),
        node(nats, "gateway", tmp_path / "state") as doomed,
        node(nats, "gateway", tmp_path / "state") as other,
    ):
        yield doomed, other


def away(state: DreamscapeState | None, name: str) -> bool:
    return state is not None and any(p.name == name and not p.present for p in state.participants)


def here(state: DreamscapeState | None, name: str) -> bool:
    return state is not None and any(p.name == name and p.present for p in state.participants)


async def test_a_dead_gateway_s_client_resumes_on_the_other_by_sequence(
    two_gateways: tuple[Node, Node],
) -> None:
    doomed, other = two_gateways
    watcher = Join(session="quay", name="Kai", role="watcher")
    async with following(other.url, watcher) as kai:
        async with following(doomed.url, Join(session="quay", name="Lyra")) as lyra:
            assert lyra.welcome.state is not None
            # a state that outweighs the quiet deltas of the seconds the owner takes to see the
            # gateway gone, so that they, not the state, are what comes back
            for cid in range(1, 11):
                await lyra.ws.send(encode(Whisper(cid=cid, text="the tide " * 31), ENCODING))
            for _ in range(10):
                assert isinstance(await lyra.reply(), Ack)
            await lyra.until_true(lambda: lyra.state is not None and len(lyra.state.whispers) == 10)
            await lyra.until(lyra.seqs[-1] + 3)
            held, token = lyra.state, lyra.welcome.resume
            await doomed.kill()
        assert held is not None
        await kai.until_true(lambda: away(kai.state, "Lyra"))  # the owner stopped hearing it
        since = Since(epoch=held.epoch, seq=held.seq)
        back = Join(session="quay", name="Lyra", resume=token, since=since)
        async with following(other.url, back) as again:
            assert again.welcome.resumed_from == held.seq
            await again.until(held.seq + 3)
            assert again.seqs[0] == held.seq + 1  # no gap, no duplicate: the follower checks
            await kai.until_true(lambda: here(kai.state, "Lyra"))
        assert all(again.frames[s] == kai.frames[s] for s in again.seqs if s in kai.frames)
