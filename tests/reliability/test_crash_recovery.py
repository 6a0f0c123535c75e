"""``kill -9`` a busy server and start it again on the same journal: nothing acknowledged is
lost, the dream goes on from where it was, and the clients come back by themselves."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import ConnectionLost
from dreamcommons.contracts.protocol import DreamscapeState
from dreamcommons.server.engine import MotifContributed
from dreamcommons.server.journal import replay_file
from dreamcommons.server.journal.reading import iter_events
from dreamcommons.server.journal.schema import connect_reader
from tests.conftest import within
from tests.processes import free_port
from tests.reliability.server_process import host_process

pytestmark = pytest.mark.integration

MOTIFS = ("moon", "river", "lantern", "owl", "tide")


class Contributor:
    """Contributes without pause, a few requests at a time, and keeps count of the acks."""

    def __init__(self, client: DreamClient) -> None:
        self.client = client
        self.acked: set[int] = set()
        self.lost = 0  # sent (or about to be) when the connection dropped: never acknowledged
        self.stop = asyncio.Event()

    async def run(self, lane: int) -> None:
        for motif in itertools.cycle(MOTIFS[lane:] + MOTIFS[:lane]):
            if self.stop.is_set():
                return
            try:
                self.acked.add(await self.client.contribute(motif, intensity=0.3))
            except ConnectionLost:
                self.lost += 1
                if not self.stop.is_set():
                    await self.client.connected.wait()


def journaled_contributions(journal: Path) -> set[tuple[str, int]]:
    conn = connect_reader(journal)
    try:
        return {
            (event.participant, event.cid)
            for _, _, event in iter_events(conn, "commons")
            if isinstance(event, MotifContributed)
        }
    finally:
        conn.close()


def replayed_at(journal: Path, seq: int) -> DreamscapeState:
    return next(state for state, _ in replay_file(journal, "commons") if state.seq == seq)


async def test_a_killed_server_resumes_with_every_acknowledged_contribution(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "dreams.sqlite"
    port = free_port()
    env = {"DREAMCOMMONS_SNAPSHOT_EVERY_S": "1"}
    url = f"ws://127.0.0.1:{port}/commons"
    lyra = DreamClient(url, "Lyra", reconnect=True)
    zara = DreamClient(url, "Zara", reconnect=True)
    kai = DreamClient(url, "Kai", role="watcher", reconnect=True)
    contributors = [Contributor(lyra), Contributor(zara)]
    async with host_process(port, journal, env) as first, lyra, zara, kai:
        identities = {c.name: c.participant for c in (lyra, zara, kai)}
        lanes = [asyncio.create_task(c.run(lane)) for c in contributors for lane in range(3)]
        try:
            await kai.wait_for(
                lambda s: s.seq > 25 and {"moon", "owl"} <= {m.name for m in s.motifs},
                within(15),
            )
            await first.kill()
            seen_before = kai.state  # the last state the first server showed
            async with host_process(port, journal, env) as second:
                line = await second.wait_for_line("recovered at tick", within(10))
                recovered_tick = int(line.split("recovered at tick ")[1].split()[0])
                for client in (lyra, zara, kai):
                    await client.wait_for(_reconnected_once(client), within(20))
                # a welcome holds the last tick's state, before its own join: the ticks after
                # everyone's reconnection show them back
                back = max(seen_before.seq, kai.state.seq) + 5
                resumed = await kai.wait_for(lambda s: s.seq > back, within(10))
                for contributor in contributors:
                    contributor.stop.set()
                async with asyncio.timeout(within(15)):
                    await asyncio.gather(*lanes)
                for client in (lyra, zara, kai):
                    assert client.reconnects == 1
                    assert client.participant == identities[client.name]
                assert sorted(p.name for p in resumed.participants) == ["Kai", "Lyra", "Zara"]
                assert all(p.present for p in resumed.participants)
                assert "Traceback" not in second.output
        finally:
            for lane in lanes:
                lane.cancel()

    journaled = journaled_contributions(journal)
    for contributor in contributors:
        pid = contributor.client.participant
        assert contributor.acked
        assert {(pid, cid) for cid in contributor.acked} <= journaled
        assert contributor.lost > 0
    # Deltas go out before their tick's commit (only acks wait for it): the last state shown
    # may be one tick ahead of the journal, never more; a state the journal has is the same
    # (but for the epoch: the recovered session names a new history, and a replay none).
    assert recovered_tick >= seen_before.seq - 1
    assert resumed.epoch != seen_before.epoch
    if recovered_tick >= seen_before.seq:
        assert replayed_at(journal, seen_before.seq) == seen_before.model_copy(update={"epoch": ""})
    assert replayed_at(journal, resumed.seq) == resumed.model_copy(update={"epoch": ""})


async def test_clients_come_back_by_themselves_after_a_server_restart(tmp_path: Path) -> None:
    journal = tmp_path / "dreams.sqlite"
    port = free_port()
    url = f"ws://127.0.0.1:{port}/commons"
    lyra = DreamClient(url, "Lyra", reconnect=True)
    async with host_process(port, journal) as first, lyra:
        pid = lyra.participant
        await lyra.contribute("moon", intensity=1.0)
        await first.stop()
        async with host_process(port, journal):
            await lyra.wait_for(lambda _: lyra.reconnects == 1, within(20))
            assert lyra.participant == pid
            await lyra.contribute("owl", intensity=1.0)
            state = await lyra.wait_for(
                lambda s: {"moon", "owl"} <= {m.name for m in s.motifs}, within(5)
            )
            assert [p.id for p in state.participants] == [pid]


def _reconnected_once(client: DreamClient) -> Callable[[DreamscapeState], bool]:
    return lambda _: client.reconnects == 1
