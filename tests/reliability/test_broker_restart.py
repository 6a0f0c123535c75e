"""The device broker stops and comes back: the server and the devices reconnect by themselves,
the stream resumes, and what was lost meanwhile is counted and reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

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
