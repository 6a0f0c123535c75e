"""A NATS restart under a cluster: an engine and a gateway (in this process) reconnect by
themselves, and a participant who stayed connected goes on: their contributions are
acknowledged again and reach the dream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.cluster import NatsProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration

WHILE_AWAY = {ErrorCode.SESSION_MOVING, ErrorCode.JOURNAL_UNAVAILABLE}


def settings(nats: NatsProcess, role: str) -> ServerSettings:
    return ServerSettings(
        port=0,
        open_sessions=("*",),
        cluster=nats.url,
        role=role,
        secret="one secret for the whole cluster",
    )


@pytest.fixture
async def gateway(nats_server: NatsProcess) -> AsyncIterator[DreamServer]:
    venue = load_venue("sleep-commons")
    async with (
        DreamServer(settings(nats_server, "engine"), venue),
        DreamServer(settings(nats_server, "gateway"), venue) as gateway,
    ):
        yield gateway


async def contribute_until_acknowledged(client: DreamClient, motif: str) -> set[ErrorCode]:
    """Contribute until acknowledged; the codes it was refused with meanwhile."""
    refusals: set[ErrorCode] = set()
    async with asyncio.timeout(within(20)):
        while True:
            try:
                await client.contribute(motif)
                return refusals
            except Refused as refused:
                refusals.add(refused.code)
                await asyncio.sleep(0.25)


async def test_a_participant_goes_on_after_a_nats_restart(
    nats_server: NatsProcess, gateway: DreamServer
) -> None:
    url = f"ws://127.0.0.1:{gateway.port}/commons"
    async with DreamClient(url, "Lyra") as lyra:
        await lyra.contribute("lantern")
        await nats_server.stop()
        await nats_server.start()
        refusals = await contribute_until_acknowledged(lyra, "ember")
        assert refusals <= WHILE_AWAY  # refused while NATS was away, or silent: never lost
        state = await lyra.wait_for(lambda s: "ember" in {m.name for m in s.motifs}, within(10))
        assert "lantern" in {m.name for m in state.motifs}
