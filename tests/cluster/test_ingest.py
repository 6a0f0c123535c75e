"""An ingest process's requests, in this process, on a real NATS and a real Mosquitto with a
simulated pod: a pairing by code, then an owner's pacing intent carried out on the pod."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client

from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.cluster.devices import OwnedDevices
from dreamcommons.server.cluster.ingest import IngestNode
from dreamcommons.server.cluster.names import DEVICE_COMMANDS
from dreamcommons.server.cluster.wire import answer, pack, unpack
from dreamcommons.server.engine import Pace
from dreamcommons.server.session import DreamSession
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration

CODE = "PAWSE2ZZZZ"


async def ask(nc: Client, **request: object) -> object:
    reply = await nc.request(DEVICE_COMMANDS, pack(request), timeout=within(5))
    return answer(unpack(reply.data))


async def test_an_owners_pacing_reaches_the_paired_pod_through_an_ingest(
    nats_client: Client, mosquitto: MosquittoProcess
) -> None:
    ingest = IngestNode(nats_client, mosquitto.url, "ingest-t", command_wait_s=within(2))
    await ingest.start()
    config = DeviceConfig.generate("pod", 3, device_id="pod-paced", pairing_code=CODE)
    try:
        async with SimulatedDevice(config, mosquitto.url) as device:
            await asyncio.wait_for(ingest.gateway.connected.wait(), within(5))
            await eventually(lambda: ingest.registry.online_count() == 1, "the pod online")
            paired = await ask(nats_client, op="pair", session="night", pid="p1", code=CODE)
            assert paired == {"device": "pod-paced", "kind": "pod", "model": config.model}
            with pytest.raises(NotAllowed) as spent:
                await ask(nats_client, op="pair", session="night", pid="p2", code=CODE)
            assert spent.value.code is ErrorCode.PAIRING_REFUSED

            owner = OwnedDevices(nats_client, wait_s=within(5))
            session = DreamSession("night", load_venue("sleep-commons"))
            owner.pace(session, Pace(participants=("p1",), hz=0.12, t=0.0))
            await eventually(lambda: device.pace_hz == 0.12, "the pod paced")
            owner.pace(session, Pace(participants=("p1",), hz=None, t=0.0))
            await eventually(lambda: device.pace_hz is None, "the pacing stopped")
    finally:
        await ingest.close()
