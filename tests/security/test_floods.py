"""Floods of cheap requests that would be dear to answer, over real sockets: each message type
has a budget, and what it may still ask for costs the server little.

The servers here close nobody for their mistakes (``max_errors`` is huge), so that a flood
goes on as long as the attacker likes, as the audit's did; with the default they are closed.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import Journal
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration

Frame = dict[str, object]
PATIENT = 1_000_000  # mistakes before a connection is closed: never, here


@pytest.fixture
async def patient_server() -> AsyncIterator[DreamServer]:
    settings = ServerSettings(
        port=0,
        open_sessions=("*",),
        max_errors=PATIENT,
        resync_burst=3,
        resyncs_per_s=0.001,  # no refill while a test runs
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture
async def journaled(tmp_path: Path) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(
        port=0,
        open_sessions=("*",),
        journal=tmp_path / "dreams.sqlite",
        max_errors=PATIENT,
        share_burst=5,
        shares_per_s=0.001,  # no refill while a test runs
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


def journaled_shares(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM events WHERE kind = 'ShareChanged'").fetchone()
    return int(count)


async def joined(server: DreamServer, name: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/commons",
        subprotocols=[Encoding.JSON.value],  # type: ignore[list-item]
    )
    await ws.send(json.dumps({"type": "join", "session": "commons", "name": name}))
    async with asyncio.timeout(within(5)):
        while json.loads(await ws.recv(decode=True))["type"] != "welcome":
            pass
    return ws


async def test_a_resync_flood_pulls_a_few_snapshots_and_the_dream_goes_on(
    patient_server: DreamServer,
) -> None:
    """Eight resyncs kept in flight for 20 ticks: one at a time is answered, at the next
    tick, within the connection's budget; the rest cost a refusal or nothing."""
    url = f"ws://127.0.0.1:{patient_server.port}/commons"
    async with DreamClient(url, "Lyra") as bystander:
        for motif in ("moon", "owl", "tide", "lantern"):
            await bystander.contribute(motif)
        ws = await joined(patient_server, "Mallory")
        seen: Counter[str] = Counter()
        snapshot_bytes = 0
        try:
            async with asyncio.timeout(within(10)):
                while seen["delta"] + seen["snapshot"] < 20:
                    for _ in range(8):
                        await ws.send(json.dumps({"type": "resync"}))
                    raw = await ws.recv(decode=True)
                    while True:  # everything that came meanwhile, before asking again
                        frame: Frame = json.loads(raw)
                        seen[str(frame.get("code", frame["type"]))] += 1
                        if frame["type"] == "snapshot":
                            snapshot_bytes += len(raw)
                        if frame["type"] in ("delta", "snapshot"):
                            break
                        raw = await ws.recv(decode=True)
            assert ws.close_code is None
        finally:
            await ws.close()
        start = bystander.state.seq
        await bystander.wait_for(lambda state: state.seq >= start + 5, within(5))

    budget = patient_server.settings.resync_burst
    assert seen["snapshot"] == budget, seen
    assert snapshot_bytes < budget * 16_384, snapshot_bytes
    assert seen["rate_limited"] > 0, seen
    assert patient_server.limits.refused["rate_limited"] == seen["rate_limited"]


async def test_a_share_flood_is_refused_beyond_its_budget_and_barely_journaled(
    journaled: DreamServer,
) -> None:
    """2,000 shares, each changing the level, from one connection that stays: the budget's
    few are acknowledged and journaled, the rest are refused and cost the journal nothing."""
    journal = journaled.journal
    assert isinstance(journal, Journal)
    flood = 2_000
    ws = await joined(journaled, "Mallory")
    try:
        before = journal.stats.bytes_committed
        for cid in range(flood):
            await ws.send(json.dumps({"type": "share", "cid": cid, "level": cid % 2 / 2}))
        answers: Counter[str] = Counter()
        async with asyncio.timeout(within(10)):
            while answers.total() < flood:
                frame: Frame = json.loads(await ws.recv(decode=True))
                if frame["type"] != "delta":
                    answers[str(frame.get("code", frame["type"]))] += 1
            # the connection survived: the dream still comes, and the next tick is journaled
            seq = journal.last_seq
            while json.loads(await ws.recv())["type"] != "delta" or journal.durable_seq <= seq:
                pass
        assert ws.close_code is None
    finally:
        await ws.close()
    budget = journaled.settings.share_burst
    assert answers == {"ack": budget, "rate_limited": flood - budget}
    assert await asyncio.to_thread(journaled_shares, journal.path) == budget
    assert journal.stats.bytes_committed - before < 10 * flood  # each share journaled: ~90


async def test_a_share_that_sets_what_is_set_is_acknowledged_and_not_journaled(
    journaled: DreamServer,
) -> None:
    journal = journaled.journal
    assert isinstance(journal, Journal)
    async with DreamClient(f"ws://127.0.0.1:{journaled.port}/commons", "Lyra") as lyra:
        await lyra.share(0.5, show_stage=True)
        await lyra.share(0.5)  # three that change nothing, within the budget of five
        await lyra.share(None, show_stage=True)
        await lyra.share(0.5, show_stage=True)
        await lyra.share(0.7)
    assert await asyncio.to_thread(journaled_shares, journal.path) == 2
