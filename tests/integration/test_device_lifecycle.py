"""A device's life as the server counts it, on a real Mosquitto: what is refused and why,
what its will means for its samples, and what its retained messages are worth once it has
gone for good."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import AsyncIterator, Callable

import aiomqtt
import pytest

from dreamcommons.contracts.device_protocol import (
    MAX_PAYLOAD_BYTES,
    BioSample,
    DeviceBirth,
    DeviceStatus,
    SampleBatch,
    device_topic,
    pack,
    parse_topic,
    server_subscriptions,
    unpack,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.firmware_sim.fleet import fleet_configs
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.ingest import DeviceGateway
from dreamcommons.server.devices.registry import DeviceRecord
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons, read_until

pytestmark = pytest.mark.integration

_clients = itertools.count()


@contextlib.asynccontextmanager
async def dream_server(broker: MosquittoProcess) -> AsyncIterator[DreamServer]:
    """A real server on ``broker``, yielded once it listens to the devices."""
    settings = ServerSettings(port=0, broker=broker.url, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        async with asyncio.timeout(within(5)):
            await gateway_of(server).connected.wait()
        yield server


def gateway_of(server: DreamServer) -> DeviceGateway:
    gateway = server.devices.gateway
    assert gateway is not None
    return gateway


@contextlib.asynccontextmanager
async def mqtt(broker: MosquittoProcess) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"test-client-{next(_clients)}"
    ) as client:
        yield client


async def until(condition: Callable[[], object], what: str, seconds: float = 5.0) -> None:
    """Wait for a condition on the server's own bookkeeping, checked every 20 ms."""
    try:
        async with asyncio.timeout(within(seconds)):
            while not condition():  # noqa: ASYNC110 - plain counters, nothing to await
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not {what} within {seconds}s") from None


def record(server: DreamServer, device_id: str) -> DeviceRecord | None:
    return server.devices.registry.devices.get(device_id)


def birth(bd_seq: int) -> DeviceBirth:
    return DeviceBirth(
        kind="pod", model="Chrono-Cocoon", firmware="test", bd_seq=bd_seq, sample_hz=5.0,
        sensors=("hr",), actions=("light",),
    )  # fmt: skip


def batch(seq: int, bd_seq: int) -> bytes:
    return pack(SampleBatch(seq=seq, bd_seq=bd_seq, samples=(BioSample(t=float(seq), hr=60.0),)))


def online_in_metrics(server: DreamServer) -> float:
    for line in server.metrics.render().decode().splitlines():
        if line.startswith("dreamcommons_devices_online "):
            return float(line.split()[1])
    raise AssertionError("no dreamcommons_devices_online in /metrics")


async def retained_now(broker: MosquittoProcess) -> dict[tuple[str, str], bytes]:
    """Every retained device message the broker holds, as a fresh subscriber receives it.

    The broker sends a new subscription's retained messages before anything published after
    the SUBACK, so once our own probe comes back, every retained message has arrived."""
    found: dict[tuple[str, str], bytes] = {}
    async with mqtt(broker) as client:
        for topic in server_subscriptions():
            await client.subscribe(topic, qos=1)
        probe = device_topic("test-probe", "events")
        await client.publish(probe, b"probe", qos=1)
        async with asyncio.timeout(within(5)):
            async for message in client.messages:
                if str(message.topic) == probe:
                    return found
                where = parse_topic(str(message.topic))
                assert where is not None
                assert message.retain, message.topic
                assert isinstance(message.payload, bytes)
                found[where] = message.payload
    raise AssertionError("the probe never came back")


async def test_an_oversized_payload_is_counted_as_frame_too_large(
    mosquitto: MosquittoProcess,
) -> None:
    async with dream_server(mosquitto) as server, mqtt(mosquitto) as device:
        await device.publish(device_topic("pod-big", "birth"), pack(birth(0)), qos=1)
        await until(lambda: record(server, "pod-big"), "pod-big announced")
        huge = b"\x00" * (MAX_PAYLOAD_BYTES + 1)
        await device.publish(device_topic("pod-big", "samples"), huge, qos=1)
        rejected = gateway_of(server).stats.rejected
        await until(lambda: rejected["frame_too_large"] == 1, "the payload refused")
        found = record(server, "pod-big")
        assert found is not None
        assert found.rejected == 1
        assert found.samples == 0
    assert rejected["malformed_frame"] == 0  # the same name as on the WebSocket side


async def test_after_its_will_a_device_needs_a_birth_before_its_samples_count(
    mosquitto: MosquittoProcess,
) -> None:
    async with (
        dream_server(mosquitto) as server,
        dreamcommons(
            "device", "pod", "--broker", mosquitto.url, "--id", "pod-zombie", "--pair", "ZZMBE2ZZZZ"
        ) as device,
        mqtt(mosquitto) as zombie,
    ):
        await read_until(device, "pairing code", within(15))
        await until(lambda: (r := record(server, "pod-zombie")) and r.messages > 0, "streaming")
        device.kill()  # no goodbye: the broker publishes the will, lost
        await device.wait()
        found = record(server, "pod-zombie")
        assert found is not None
        await until(lambda: not found.online, "offline through its will")
        bd_seq, seq, samples = found.birth.bd_seq, (found.last_seq or 0) + 1, found.samples

        samples_topic = device_topic("pod-zombie", "samples")
        for n in range(3):  # the same connection's samples, after its last word
            await zombie.publish(samples_topic, batch(seq + n, bd_seq), qos=1)
        rejected = gateway_of(server).stats.rejected
        await until(lambda: rejected["offline_device"] == 3, "samples ignored and counted")
        assert not found.online
        assert found.ignored == 3
        assert found.samples == samples
        assert server.devices.registry.online_count() == 0

        reborn = (bd_seq + 1) % 256
        await zombie.publish(device_topic("pod-zombie", "birth"), pack(birth(reborn)), qos=1)
        await zombie.publish(samples_topic, batch(seq + 3, reborn), qos=1)
        await until(lambda: found.samples == samples + 1, "counted again after a birth")
        assert found.online
        assert rejected["offline_device"] == 3


async def test_a_fleet_that_exits_leaves_nothing_retained_and_a_paused_device_keeps_it(
    mosquitto: MosquittoProcess,
) -> None:
    ids = {config.device_id for config in fleet_configs(3, seed=0)}  # the command's defaults
    async with (
        mqtt(mosquitto) as watcher,
        dreamcommons("fleet", "--count", "3", "--broker", mosquitto.url) as fleet,
    ):
        await watcher.subscribe(device_topic("+", "status"), qos=1)
        ready: set[str] = set()
        async with asyncio.timeout(within(15)):
            async for message in watcher.messages:
                where = parse_topic(str(message.topic))
                assert where is not None
                assert isinstance(message.payload, bytes)
                if message.payload and unpack(message.payload, DeviceStatus).state == "ready":
                    ready.add(where[0])
                if ready == ids:
                    break
        fleet.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(fleet.communicate(), within(15))
        assert fleet.returncode == 0, output.decode()
    held = await retained_now(mosquitto)
    assert not [where for where in held if where[0] in ids]

    paused = DeviceConfig.generate(
        "fabric", 5, device_id="fabric-paused", pairing_code="PAWSE2ZZZZ"
    )
    async with SimulatedDevice(paused, mosquitto.url) as device:
        async with asyncio.timeout(within(5)):
            await device.connected.wait()
    held = await retained_now(mosquitto)
    assert ("fabric-paused", "birth") in held  # back after a restart, it is still known
    assert ("fabric-paused", "status") in held


async def test_a_stale_retained_ready_is_not_a_device_online(mosquitto: MosquittoProcess) -> None:
    async with mqtt(mosquitto) as ghost:  # the last words of a device that never comes back
        await ghost.publish(device_topic("pod-ghost", "birth"), pack(birth(4)), qos=1, retain=True)
        ready = pack(DeviceStatus(state="ready", bd_seq=4))
        await ghost.publish(device_topic("pod-ghost", "status"), ready, qos=1, retain=True)
    live = DeviceConfig.generate("pod", 6, device_id="pod-live", pairing_code="VVVE22ZZZZ")
    async with dream_server(mosquitto) as server, SimulatedDevice(live, mosquitto.url):
        await until(lambda: (r := record(server, "pod-live")) and r.messages > 2, "pod-live")
        ghost_record = record(server, "pod-ghost")
        assert ghost_record is not None  # known from the broker's copy of its birth ...
        assert not ghost_record.online  # ... but not online: it has said nothing itself
        assert server.devices.registry.online_count() == 1
        assert online_in_metrics(server) == 1.0
        assert server.devices.summary()["devices_online"] == 1

        async with mqtt(mosquitto) as revived:  # a device that was only paused speaks again
            await revived.publish(device_topic("pod-ghost", "samples"), batch(0, 4), qos=0)
        await until(lambda: ghost_record.online, "online once it speaks for itself")
        assert online_in_metrics(server) == 2.0
