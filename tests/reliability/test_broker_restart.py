"""The device broker stops and comes back: the server and the devices reconnect by themselves,
the stream resumes, and what was lost meanwhile is counted and reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.registry import DeviceRecord
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def heard(server: DreamServer, device_id: str, messages: int) -> DeviceRecord:
    """The device's record once the server has heard ``messages`` batches from it."""
    devices = server.devices.registry.devices
    await eventually(
        lambda: device_id in devices and devices[device_id].messages >= messages, "heard", 15
    )
    return devices[device_id]


async def test_server_and_devices_come_back_after_a_broker_restart_and_count_the_loss(
    mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    config = DeviceConfig.generate("pod", 21, device_id="pod-mira", sample_hz=10, batch=1)
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        gateway = server.devices.gateway
        assert gateway is not None
        async with SimulatedDevice(config, mosquitto.url) as device:
            before = await heard(server, "pod-mira", 5)
            assert before.lost == 0
            heard_before = before.messages

            await mosquitto.stop()
            stats = device.stats
            await eventually(
                lambda: not gateway.connected.is_set() and stats.dropped_offline > 0, "lost", 15
            )
            with caplog.at_level(logging.WARNING):
                await mosquitto.start()
                async with asyncio.timeout(within(20)):
                    await gateway.connected.wait()
                after = await heard(server, "pod-mira", heard_before + 5)

            assert gateway.stats.connects == 2
            assert device.stats.reconnects == 1
            assert after.online
            assert after.lost > 0  # the batches made while the broker was away
            assert server.devices.summary()["samples_lost"] == after.lost
            assert "samples lost" in caplog.text


def gauges(server: DreamServer) -> dict[str, float]:
    """The metrics' unlabelled samples, by name."""
    found = {}
    for line in server.metrics.render().decode().splitlines():
        name, _, value = line.partition(" ")
        if not line.startswith("#") and "{" not in name:
            found[name] = float(value)
    return found


async def test_while_the_broker_is_away_the_devices_online_are_unknown(
    mosquitto: MosquittoProcess,
) -> None:
    config = DeviceConfig.generate("pod", 22, device_id="pod-away", pairing_code="AWAY2345ZZ")
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        SimulatedDevice(config, mosquitto.url),
        DreamClient(f"ws://127.0.0.1:{server.port}/commons", "Lyra") as lyra,
    ):
        gateway = server.devices.gateway
        assert gateway is not None
        record = await heard(server, "pod-away", 1)
        await lyra.pair_device("AWAY-2345-ZZ")

        def my_devices() -> int:
            me = next((p for p in lyra.state.participants if p.id == lyra.participant), None)
            return -1 if me is None else me.devices

        await lyra.wait_for(lambda _: my_devices() == 1, within(5))
        assert gauges(server)["dreamcommons_devices_online"] == 1
        assert gauges(server)["dreamcommons_broker_connected"] == 1

        await mosquitto.stop()
        await eventually(lambda: not gateway.connected.is_set(), "the server off the broker", 15)
        away = gauges(server)
        assert away["dreamcommons_broker_connected"] == 0
        assert "dreamcommons_devices_online" not in away  # nobody knows: no figure
        assert not record.online
        assert record.last_seen is not None  # what is known: when it was last heard
        await lyra.wait_for(lambda _: my_devices() == 0, within(5))

        await mosquitto.start()
        await asyncio.wait_for(gateway.connected.wait(), within(20))
        await eventually(lambda: record.online, "the pod heard again", 15)
        assert gauges(server)["dreamcommons_devices_online"] == 1
        await lyra.wait_for(lambda _: my_devices() == 1, within(5))
