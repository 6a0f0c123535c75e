"""Floods of cheap requests that would be dear to answer, over real sockets: each message type
has a budget, and what it may still ask for costs the server little.

The servers here close nobody for their mistakes (``max_errors`` is huge), so that a flood
goes on as long as the attacker likes, as the audit's did; with the default they are closed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
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
