"""A participant's devices are theirs: nobody else can claim them by code or command them, the
code never reaches the broker, and only the device itself can say it went offline."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.device_protocol import DeviceStatus, device_topic, pack
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.pairing import format_code
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons, read_until
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def pod_and_server(
    mosquitto: MosquittoProcess, config: DeviceConfig
) -> AsyncIterator[tuple[DreamServer, SimulatedDevice]]:
    settings = ServerSettings(port=0, broker=mosquitto.url)
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        SimulatedDevice(config, mosquitto.url) as pod,
    ):
        await asyncio.wait_for(pod.connected.wait(), within(10))
        registry = server.devices.registry
        await eventually(lambda: config.device_id in registry.devices, "the pod heard")
        await eventually(lambda: registry.devices[config.device_id].online, "the pod online")
        yield server, pod


def client(server: DreamServer, session: str, name: str) -> DreamClient:
    url = f"ws://127.0.0.1:{server.port}/{session}"
    return DreamClient(url, name, code=server.gatekeeper.join_code(session))


async def test_a_spent_pairing_code_and_someone_elses_device(mosquitto: MosquittoProcess) -> None:
    config = DeviceConfig.generate("pod", 5, device_id="pod-lyra", pairing_code="KYRA23ZZZZ")
    async with (
        pod_and_server(mosquitto, config) as (server, pod),
        client(server, "commons", "Lyra") as lyra,
        client(server, "commons", "Mallory") as mallory,
    ):
        registry = server.devices.registry
        offer = registry.devices["pod-lyra"].birth.pairing
        assert offer is not None
        await lyra.pair_device("kyra-23zz-zz")  # as typed: lower case, with the dashes
        with pytest.raises(Refused) as refusal:
            await mallory.pair_device("KYRA23ZZZZ")
        assert refusal.value.code is ErrorCode.PAIRING_REFUSED

        # Commands run in order: once this one is acked, the pod has taken "paired" in and
        # published its birth without the offer.
        assert (await lyra.command("pod-lyra", "light", 0.3)).ok

        # The device restarts and offers its old code again (not a reset): still Lyra's.
        birth = registry.devices["pod-lyra"].birth.model_copy(update={"pairing": offer})
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="restart") as again:
            await again.publish(device_topic("pod-lyra", "birth"), pack(birth), qos=1)
        await eventually(lambda: registry.devices["pod-lyra"].birth.pairing == offer)
        with pytest.raises(Refused) as refusal:
            await mallory.pair_device("KYRA23ZZZZ")
        assert refusal.value.code is ErrorCode.PAIRING_REFUSED

        with pytest.raises(Refused) as refusal:
            await mallory.command("pod-lyra", "light", 1.0)
        assert refusal.value.code is ErrorCode.FORBIDDEN
        assert pod.actuators["light"] == 0.3
        assert registry.devices["pod-lyra"].owner == f"commons/{lyra.participant}"


async def test_the_code_never_reaches_the_broker(mosquitto: MosquittoProcess) -> None:
    """Anyone on an open broker reads every retained birth: none carries the code."""
    config = DeviceConfig.generate("pod", 6, device_id="pod-open", pairing_code="QPEN2345ZZ")
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="eavesdropper") as spy,
        pod_and_server(mosquitto, config) as (server, _),
        client(server, "commons", "Lyra") as lyra,
    ):
        await spy.subscribe("#", qos=1)
        heard: list[bytes] = []
        await lyra.pair_device(format_code(config.pairing_code))
        async with asyncio.timeout(within(10)):
            async for message in spy.messages:  # birth, status, samples, paired, its ack...
                assert isinstance(message.payload, bytes)
                heard.append(message.payload)
                if str(message.topic).endswith("/birth") and len(heard) > 3:
                    break  # the birth without the offer, after pairing
    assert heard
    for shown in ("QPEN2345ZZ", "QPEN-2345-ZZ", "qpen2345zz"):
        assert not any(shown.encode() in payload for payload in heard)


async def test_a_device_set_up_for_a_session_pairs_only_there(
    mosquitto: MosquittoProcess,
) -> None:
    config = DeviceConfig.generate(
        "pod", 7, device_id="pod-bound", pairing_code="BQVND234ZZ", session="commons"
    )
    async with (
        pod_and_server(mosquitto, config) as (server, _),
        client(server, "festival", "Mallory") as mallory,
        client(server, "commons", "Lyra") as lyra,
    ):
        with pytest.raises(Refused) as refusal:
            await mallory.pair_device("BQVND234ZZ")  # the right code, from another session
        assert refusal.value.code is ErrorCode.PAIRING_REFUSED
        assert "no device is waiting for that pairing code" in str(refusal.value)
        assert (await lyra.pair_device("BQVND234ZZ")).device == "pod-bound"


async def test_a_reset_device_goes_to_its_next_owner_and_the_old_one_loses_it(
    mosquitto: MosquittoProcess,
) -> None:
    config = DeviceConfig.generate("pod", 8, device_id="pod-taken", pairing_code="TAKEN234ZZ")
    async with (
        pod_and_server(mosquitto, config) as (server, pod),
        client(server, "commons", "Mallory") as mallory,
        client(server, "commons", "Lyra") as lyra,
    ):
        registry = server.devices.registry
        await mallory.pair_device("TAKEN234ZZ")  # taken by someone who saw the code
        assert (await mallory.command("pod-taken", "light", 0.9)).ok  # "paired" is in
        fresh = await pod.reset()  # its owner resets it: a new code, shown to her only
        assert fresh != "TAKEN234ZZ"
        await eventually(lambda: registry.devices["pod-taken"].birth.pairing is not None)
        with pytest.raises(Refused) as refusal:
            await lyra.pair_device("TAKEN234ZZ")  # the old code is spent
        assert refusal.value.code is ErrorCode.PAIRING_REFUSED

        assert (await lyra.pair_device(format_code(fresh))).device == "pod-taken"
        assert registry.devices["pod-taken"].owner == f"commons/{lyra.participant}"
        with pytest.raises(Refused) as refusal:
            await mallory.command("pod-taken", "light", 1.0)
        assert refusal.value.code is ErrorCode.FORBIDDEN
        assert (await lyra.command("pod-taken", "light", 0.2)).ok
        assert pod.actuators["light"] == 0.2
        with pytest.raises(Refused) as refusal:
            await mallory.pair_device(format_code(fresh))  # spent in its turn
        assert refusal.value.code is ErrorCode.PAIRING_REFUSED


async def test_a_spoofed_last_word_does_not_take_a_device_offline(
    mosquitto: MosquittoProcess,
) -> None:
    """On an open broker anyone can publish on a device's status topic and read its bd_seq; a
    ``lost`` or ``disconnected`` counts only with the key of the connection's birth."""
    config = DeviceConfig.generate("pod", 9, device_id="pod-spoofed")
    async with pod_and_server(mosquitto, config) as (server, pod):
        record = server.devices.registry.devices["pod-spoofed"]
        gateway = server.devices.gateway
        assert gateway is not None
        assert pod.bd_seq is not None
        topic = device_topic("pod-spoofed", "status")
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="spoofer") as spoof:
            for state, key in (("lost", None), ("disconnected", None), ("lost", "ab" * 16)):
                status = DeviceStatus(state=state, bd_seq=pod.bd_seq, key=key)
                await spoof.publish(topic, pack(status), qos=1, retain=True)
        await eventually(lambda: gateway.stats.rejected["unproven_status"] == 3, "all refused")
        assert record.online
        assert not record.awaiting_birth
        seen = record.messages
        await eventually(lambda: record.messages > seen, "its samples still counted")

        await pod.stop()  # its own goodbye carries the key: believed
        await eventually(lambda: not record.online, "the pod offline after its goodbye")


async def test_a_code_typed_in_lower_case_with_dashes_pairs_over_a_raw_socket(
    mosquitto: MosquittoProcess,
) -> None:
    """The server itself reads the code as typed, whatever the client did before sending."""
    config = DeviceConfig.generate("pod", 10, device_id="pod-typed", pairing_code="TYPED234ZZ")
    async with pod_and_server(mosquitto, config) as (server, _):
        url = f"ws://127.0.0.1:{server.port}/commons"
        code = server.gatekeeper.join_code("commons")
        async with connect(url, subprotocols=[Subprotocol(Encoding.JSON.value)]) as ws:
            join = {"type": "join", "session": "commons", "name": "Lyra", "code": code}
            assert (await reply(ws, json.dumps(join)))["type"] == "welcome"
            typed = {"type": "pair", "cid": 1, "code": " typed-234z z "}
            paired = await reply(ws, json.dumps(typed))
    assert paired["type"] == "paired", paired
    assert paired["device"] == "pod-typed"


async def reply(ws: ClientConnection, frame: str) -> dict[str, object]:
    """The answer to ``frame``: the next frame that is not a delta."""
    await ws.send(frame)
    async with asyncio.timeout(within(5)):
        while True:
            answer: dict[str, object] = json.loads(await ws.recv(decode=True))
            if answer["type"] != "delta":
                return answer


async def test_the_device_command_binds_to_its_session_and_a_reset_shows_a_fresh_code(
    mosquitto: MosquittoProcess,
) -> None:
    settings = ServerSettings(port=0, broker=mosquitto.url)
    seeded = DeviceConfig.generate("pod", 11, device_id="pod-cli")
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        dreamcommons(
            *("device", "pod", "--broker", mosquitto.url, "--id", "pod-cli", "--seed", "11"),
            *("--session", "commons", "--reset"),
        ) as device,
        client(server, "festival", "Mallory") as mallory,
        client(server, "commons", "Lyra") as lyra,
    ):
        shown = await read_until(device, "pairing code", within(15))
        line = next(line for line in shown.splitlines() if "pairing code" in line)
        code = line.split()[2]
        assert line.endswith("(for session commons)")
        assert code.count("-") == 2  # grouped for reading aloud
        assert code.replace("-", "") != seeded.pairing_code  # reset: not the seed's code
        registry = server.devices.registry
        await eventually(
            lambda: "pod-cli" in registry.devices and registry.devices["pod-cli"].online
        )
        with pytest.raises(Refused):
            await mallory.pair_device(code)
        assert (await lyra.pair_device(code)).device == "pod-cli"
