"""``DreamClient(..., reconnect=True)``: the one reconnecting loop, which the terminal client uses.

It tells its owner each change of its connection, resumes as the same participant after a
drop, waits for a server that is not up yet, and stops at a close that coming back would undo.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.frames import CloseCode as WebSocketClose

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.link import FINAL_CLOSES, Joined, LinkEvent, Lost, Retrying
from dreamcommons.contracts.errors import CloseCode
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_after_a_drop_it_says_so_and_resumes_as_the_same_participant(
    dream_server: DreamServer, server_url: str
) -> None:
    events: list[LinkEvent] = []
    async with DreamClient(server_url, "Lyra", reconnect=True, on_link=events.append) as lyra:
        me = lyra.participant
        assert events == [Joined("commons", me, resumed=False)]
        member = dream_server.sessions["commons"].member(me)
        assert member is not None
        assert member.connection is not None
        await member.connection.close(WebSocketClose.GOING_AWAY, "network blip")
        await lyra.wait_for(lambda _: lyra.reconnects == 1, within(10))
        assert isinstance(events[1], Lost)
        assert isinstance(events[2], Retrying)
        assert events[-1] == Joined("commons", me, resumed=True)
        assert lyra.ended is None


async def test_it_waits_for_a_server_that_is_not_up_yet() -> None:
    port = free_port()
    settings = ServerSettings(port=port, open_sessions=("*",))
    events: list[LinkEvent] = []
    url = f"ws://127.0.0.1:{port}/commons"
    patient = DreamClient(url, "Lyra", reconnect=True, wait_for_server=True, on_link=events.append)
    entering = asyncio.create_task(patient.__aenter__(), name="test:lyra-joins")
    try:
        await eventually(lambda: events, "a first attempt reported", 10)
        assert isinstance(events[0], Retrying)
        assert "onnect" in events[0].problem  # "Connect call failed", "Connection refused"
        async with DreamServer(settings, load_venue("sleep-commons")):
            async with asyncio.timeout(within(10)):
                await entering
            assert isinstance(events[-1], Joined)
    finally:
        entering.cancel()
        await patient.close()


async def test_removed_by_the_host_it_stops_and_says_why(
    dream_server: DreamServer, server_url: str
) -> None:
    key = dream_server.settings.host_key
    async with (
        DreamClient(server_url, "Lyra", reconnect=True) as lyra,
        DreamClient(server_url, "Host", role="host", key=key) as host,
    ):
        await host.host("remove", lyra.participant)
        async with asyncio.timeout(within(5)):
            async for _ in lyra.states():
                pass
        assert lyra.ended == FINAL_CLOSES[CloseCode.REMOVED]
        assert lyra.reconnects == 0
