"""Home Assistant on a broker locked down by ``broker-config``: its own user reads what the
devices and the server show it and sets a device's level; a device shows only itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from dreamcommons.contracts.home_assistant import (
    device_availability_topic,
    device_config_topic,
    device_set_topic,
    device_state_topic,
    session_config_topic,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker_config import Credential
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.security.conftest import SecuredBroker
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def client_of(broker: SecuredBroker, who: Credential) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        broker.process.host, broker.process.port, username=who.username, password=who.password
    ) as client:
        yield client


async def test_home_assistant_sees_devices_and_sessions_and_sets_levels(
    secured_broker: SecuredBroker,
) -> None:
    heard: dict[str, list[bytes]] = {}
    victim_config = device_config_topic("pod-victim")

    async def collect(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            heard.setdefault(str(message.topic), []).append(message.payload)

    settings = ServerSettings(
        port=0, broker=secured_broker.url(secured_broker.config.server), ha_discovery=True
    )
    config = DeviceConfig.generate("pod", 3, device_id="pod-victim")
    password = secured_broker.device("pod-victim").password
    async with (
        client_of(secured_broker, secured_broker.config.home_assistant) as home_assistant,
        client_of(secured_broker, secured_broker.device("pod-evil")) as evil,
    ):
        for topic in ("homeassistant/#", "dreamcommons/v1/devices/#", "dreamcommons/v1/servers/#"):
            await home_assistant.subscribe(topic, qos=1)
        listening = asyncio.get_running_loop().create_task(collect(home_assistant))
        try:
            async with (
                DreamServer(settings, load_venue("sleep-commons")) as server,
                SimulatedDevice(
                    config, secured_broker.url(), password=password, ha_discovery=True
                ) as device,
            ):
                server.session("commons")
                await eventually(
                    lambda: (
                        heard.get(device_state_topic("pod-victim"))
                        and heard.get(session_config_topic("main", "commons"))
                    ),
                    "the device's state and the session's discovery",
                    10,
                )
                assert heard[device_availability_topic("pod-victim")] == [b"online"]
                assert heard["dreamcommons/v1/servers/main/status"] == [b"online"]
                # A device may not speak for another: the broker drops the forgery, and keeps
                # the forger's order, so its own discovery arrives after where the fake would.
                await evil.publish(victim_config, b'{"dev": {}}', qos=1, retain=True)
                await evil.publish(device_config_topic("pod-evil"), b"", qos=1, retain=True)
                await eventually(
                    lambda: device_config_topic("pod-evil") in heard, "pod-evil's own", 5
                )
                await home_assistant.publish(device_set_topic("pod-victim", "light"), "30", qos=1)
                await eventually(
                    lambda: device.actuators["light"] == pytest.approx(0.3), "the level", 5
                )
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
    device_leaves = {topic.rsplit("/", 1)[1] for topic in heard if "/v1/devices/" in topic}
    assert device_leaves == {"availability", "state"}  # no batch, birth, status or ack
    assert len(heard[victim_config]) == 1
    assert heard[victim_config][0].startswith(b'{"dev":{"ids":["dreamcommons_pod-victim"]')
