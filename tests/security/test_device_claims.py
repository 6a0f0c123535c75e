"""A participant's devices are theirs: nobody else can claim them by code or command them."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.device_protocol import device_topic, pack
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_a_spent_pairing_code_and_someone_elses_device(mosquitto: MosquittoProcess) -> None:
    settings = ServerSettings(port=0, broker=mosquitto.url)
    config = DeviceConfig.generate("pod", 5, device_id="pod-lyra", pairing_code="LYRA01")
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        SimulatedDevice(config, mosquitto.url) as pod,
    ):
        url = f"ws://127.0.0.1:{server.port}/commons"
        code = server.gatekeeper.join_code("commons")
        await asyncio.wait_for(pod.connected.wait(), within(10))
        registry = server.devices.registry
        await eventually(lambda: "pod-lyra" in registry.devices)
        async with (
            DreamClient(url, "Lyra", code=code) as lyra,
            DreamClient(url, "Mallory", code=code) as mallory,
        ):
            await lyra.pair_device("LYRA01")
            with pytest.raises(Refused) as refusal:
                await mallory.pair_device("LYRA01")
            assert refusal.value.code is ErrorCode.PAIRING_REFUSED

            # Commands run in order: once this one is acked, the pod has taken "paired" in and
            # published its birth without the code.
            assert (await lyra.command("pod-lyra", "light", 0.3)).ok

            # The device resets and shows its old code again: still Lyra's.
            birth = registry.devices["pod-lyra"].birth.model_copy(update={"pairing_code": "LYRA01"})
            async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="reset") as reset:
                await reset.publish(device_topic("pod-lyra", "birth"), pack(birth), qos=1)
            await eventually(lambda: registry.devices["pod-lyra"].birth.pairing_code == "LYRA01")
            with pytest.raises(Refused) as refusal:
                await mallory.pair_device("LYRA01")
            assert refusal.value.code is ErrorCode.PAIRING_REFUSED

            with pytest.raises(Refused) as refusal:
                await mallory.command("pod-lyra", "light", 1.0)
            assert refusal.value.code is ErrorCode.FORBIDDEN
            assert pod.actuators["light"] == 0.3
            assert registry.devices["pod-lyra"].owner == f"commons/{lyra.participant}"
