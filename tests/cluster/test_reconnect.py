"""A NATS restart is a pause: a connected client reconnects by itself and appends again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from nats.aio.client import Client

from dreamcommons.server.cluster import (
    LogUnavailable,
    NatsProcess,
    SessionLeases,
    SessionLog,
)
from dreamcommons.server.journal import Tick
from tests.nats_fixtures import lease_changes
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration


async def test_a_client_reconnects_after_a_restart_and_appends_again(
    nats_server: NatsProcess, nats_client: Client
) -> None:
    log = await SessionLog.open(nats_client)
    before = await log.append("commons", Tick(0.1))
    reconnected = asyncio.Event()
    nats_client._reconnected_cb = _setter(reconnected)

    await nats_server.stop()
    await eventually(lambda: not nats_client.is_connected, "disconnected")
    with pytest.raises(LogUnavailable):
        await log.append("commons", Tick(0.2))  # refused at once: nothing left to send later

    await nats_server.start()
    await asyncio.wait_for(reconnected.wait(), within(10))
    after = await log.append("commons", Tick(0.3))
    assert after > before
    tail = [event async for _, event in log.read_after("commons", before)]
    assert tail == [Tick(0.3)]


async def test_a_kept_lease_survives_a_short_restart(
    nats_server: NatsProcess, nats_client: Client
) -> None:
    leases = await SessionLeases.open(nats_client, ttl=3.0)
    lease = await leases.claim("commons", "engine-a")
    lease.keep(every=0.2)
    await nats_server.stop()
    await nats_server.start()
    await eventually(lambda: nats_client.is_connected, "reconnected", seconds=10)
    refreshed = lease.revision
    await eventually(lambda: lease.revision > refreshed, "refreshed after the restart")
    assert lease.held
    assert await leases.owner_of("commons") == "engine-a"
    await lease.release()


async def test_a_watch_goes_on_across_a_restart(
    nats_server: NatsProcess, nats_client: Client
) -> None:
    leases = await SessionLeases.open(nats_client, ttl=3.0)
    async with lease_changes(leases) as changes:
        await leases.claim("commons", "engine-a")
        assert (await asyncio.wait_for(changes.get(), within(5))).owner == "engine-a"
        await nats_server.stop()
        await nats_server.start()
        await eventually(lambda: nats_client.is_connected, "reconnected", seconds=10)
        await leases.claim("festival", "engine-b")
        change = await asyncio.wait_for(changes.get(), within(5))
        assert (change.session, change.owner) == ("festival", "engine-b")
        assert changes.empty()  # what it had reported before is not reported again


def _setter(event: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def reconnected() -> None:
        event.set()

    return reconnected
