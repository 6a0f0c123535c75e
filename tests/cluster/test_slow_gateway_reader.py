"""A slow reader on a cluster's gateway is handled as in one process: it misses the owner's
deltas while behind, and once it reads again it gets the owner's snapshot (asked for and
published with the next delta), then the deltas that follow it. ``/metrics`` says what each
process does. An engine and a gateway run in this process, on a real NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgpack
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.cluster import NatsProcess
from dreamcommons.server.cluster.relay import DeltaRelay
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.reliability.test_slow_client import BOUND, a_busy_dream, small_window_client

pytestmark = pytest.mark.integration


def settings(nats: NatsProcess, role: str) -> ServerSettings:
    return ServerSettings(
        port=0,
        slow_client_bytes=BOUND,
        slow_client_grace_s=60.0,
        socket_send_bytes=4096,
        open_sessions=("*",),
        contributions_per_s=100_000,
        contribution_burst=100_000,
        cluster=nats.url,
        role=role,
        secret="one secret for the whole cluster",
    )


@pytest.fixture
async def engine_and_gateway(
    nats_server: NatsProcess,
) -> AsyncIterator[tuple[DreamServer, DreamServer]]:
    venue = load_venue("sleep-commons")
    async with (
        DreamServer(settings(nats_server, "engine"), venue) as engine,
        DreamServer(settings(nats_server, "gateway"), venue) as gateway,
    ):
        yield engine, gateway


@pytest.fixture
def gateway(engine_and_gateway: tuple[DreamServer, DreamServer]) -> DreamServer:
    return engine_and_gateway[1]


def relay_of(gateway: DreamServer) -> DeltaRelay:
    assert gateway.cluster is not None
    assert gateway.cluster.gateway is not None
    (relay,) = gateway.cluster.gateway.relays
    return relay


async def test_a_reader_behind_on_a_gateway_gets_the_owner_s_snapshot(
    gateway: DreamServer,
) -> None:
    url = f"ws://127.0.0.1:{gateway.port}/commons"
    slow = await small_window_client(gateway.port)
    slow.transport.pause_reading()
    try:
        async with a_busy_dream(url), DreamClient(url, "Zara") as zara:
            relay = relay_of(gateway)
            async with asyncio.timeout(within(30)):
                async for _ in zara.states():
                    if relay.fanout.stats.behind == 1:
                        break
            slow.transport.resume_reading()
            async with asyncio.timeout(within(15)):
                while (frame := msgpack.unpackb(await slow.recv()))["type"] != "snapshot":
                    pass
                after = msgpack.unpackb(await slow.recv())
            assert after["type"] == "delta"
            assert after["seq"] == frame["state"]["seq"] + 1
            assert relay.fanout.stats.resynced == 1
            assert relay.fanout.stats.dropped == 0
            assert zara.resyncs == 0
    finally:
        await slow.close()


def metric(server: DreamServer, name: str) -> float:
    for line in server.metrics.render().decode().splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in /metrics")


async def test_metrics_say_each_process_s_role_and_sessions(
    engine_and_gateway: tuple[DreamServer, DreamServer],
) -> None:
    engine, gateway = engine_and_gateway
    assert metric(engine, "dreamcommons_cluster_sessions_owned") == 0
    async with DreamClient(f"ws://127.0.0.1:{gateway.port}/commons", "Lyra"):
        assert metric(engine, "dreamcommons_cluster_sessions_owned") == 1
        assert metric(gateway, "dreamcommons_cluster_sessions_owned") == 0
        assert metric(gateway, "dreamcommons_cluster_sessions_relayed") == 1
        assert metric(gateway, "dreamcommons_cluster_connections") == 1
        assert metric(engine, "dreamcommons_connections") == 0  # nobody connects to an engine
    for server, role in ((engine, "engine"), (gateway, "gateway")):
        assert metric(server, "dreamcommons_cluster_nats_connected") == 1
        assert f'role="{role}"' in server.metrics.render().decode()
    assert metric(engine, "dreamcommons_cluster_leases_lost_total") == 0
