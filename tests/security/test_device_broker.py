"""Attacks by one device on another through a Mosquitto configured by ``broker-config``.

Each device is confined to its own topics; the server has its own credentials. A device that
misbehaves is simply not heard: Mosquitto drops what the ACL forbids, without telling it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from dreamcommons.cli.main import main
from dreamcommons.contracts.broker_access import read_device_credentials
from dreamcommons.contracts.device_protocol import (
    BioSample,
    CommandAck,
    DeviceBirth,
    DeviceCommand,
    PairingOffer,
    SampleBatch,
    device_topic,
    pack,
    unpack,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import find_mosquitto, port_open
from dreamcommons.server.devices.ingest import DeviceGateway
from dreamcommons.server.devices.send_command import send_command
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import end, free_port
from tests.security.conftest import SecuredBroker
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def served(broker: SecuredBroker) -> AsyncIterator[DreamServer]:
    server_url = broker.url(broker.config.server)
    settings = ServerSettings(port=0, broker=server_url)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        assert server.devices.gateway is not None
        await asyncio.wait_for(server.devices.gateway.connected.wait(), within(10))
        yield server


@contextlib.asynccontextmanager
async def device_client(broker: SecuredBroker, device_id: str) -> AsyncIterator[aiomqtt.Client]:
    """A raw MQTT client holding ``device_id``'s real credentials: a hacked device."""
    who = broker.device(device_id)
    async with aiomqtt.Client(
        broker.process.host, broker.process.port, username=who.username, password=who.password
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def victim(broker: SecuredBroker) -> AsyncIterator[SimulatedDevice]:
    config = DeviceConfig.generate("pod", 7, device_id="pod-victim", pairing_code="VKCTMZZZZZ")
    password = broker.device("pod-victim").password
    async with SimulatedDevice(config, broker.url(), password=password) as device:
        await asyncio.wait_for(device.connected.wait(), within(10))
        yield device


def birth(code: str | None = None) -> bytes:
    offer = None if code is None else PairingOffer.of(code, "00" * 16)
    return pack(
        DeviceBirth(
            kind="pod",
            model="Chrono-Cocoon",
            firmware="evil 1.0",
            bd_seq=0,
            sample_hz=5.0,
            sensors=["hr"],
            actions=["light"],
            pairing=offer,
        )
    )


def batch(seq: int) -> bytes:
    return pack(SampleBatch(seq=seq, bd_seq=0, samples=[BioSample(t=0.0, hr=180.0)]))


async def topics_heard_until_own_command(gateway: DeviceGateway, evil: aiomqtt.Client) -> list[str]:
    """Have the server command pod-evil itself, and list every topic pod-evil received up to
    that command. The broker keeps one sender's order, so anything of another device's that
    the server sent before would be in the list."""
    own = device_topic("pod-evil", "commands")
    sending = asyncio.create_task(gateway.command("pod-evil", "light", 0.1, wait_s=within(5)))
    topics: list[str] = []
    async with asyncio.timeout(within(5)):
        async for message in evil.messages:
            topics.append(str(message.topic))
            if str(message.topic) == own:
                assert isinstance(message.payload, bytes)
                command = unpack(message.payload, DeviceCommand)
                await evil.publish(
                    device_topic("pod-evil", "acks"),
                    pack(CommandAck(id=command.id, ok=True)),
                    qos=1,
                )
                break
    assert (await sending).ok
    return topics


async def test_anonymous_clients_and_wrong_passwords_are_refused(
    secured_broker: SecuredBroker,
) -> None:
    host, port = secured_broker.process.host, secured_broker.process.port
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, identifier="nobody"):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, username="pod-victim", password="guess"):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, username="dreamcommons-server", password="guess"):
            pass


async def test_a_device_cannot_publish_as_another(secured_broker: SecuredBroker) -> None:
    async with served(secured_broker) as server, device_client(secured_broker, "pod-evil") as evil:
        registry = server.devices.registry
        await evil.publish(device_topic("pod-victim", "birth"), birth("EVVV42ZZZZ"), qos=1)
        await evil.publish(device_topic("pod-victim", "samples"), batch(0), qos=1)
        await evil.publish(device_topic("pod-evil", "birth"), birth(), qos=1)  # its own: heard
        await eventually(lambda: "pod-evil" in registry.devices)
        assert "pod-victim" not in registry.devices
        assert server.devices.gateway is not None
        assert server.devices.gateway.stats.messages == 1


async def test_a_spoofed_stream_never_reaches_the_paired_owner(
    secured_broker: SecuredBroker,
) -> None:
    async with (
        served(secured_broker) as server,
        victim(secured_broker) as pod,
        device_client(secured_broker, "pod-evil") as evil,
    ):
        registry = server.devices.registry
        await eventually(lambda: registry.devices.get("pod-victim") is not None)
        record = registry.devices["pod-victim"]
        await evil.publish(device_topic("pod-victim", "samples"), batch(2**31), qos=1)
        await evil.publish(device_topic("pod-evil", "birth"), birth(), qos=1)
        await eventually(lambda: "pod-evil" in registry.devices)
        seq = pod.seq
        await eventually(lambda: record.last_seq is not None and record.last_seq >= seq)
        assert record.last_seq is not None
        assert record.last_seq < 2**31
        assert record.lost == 0


async def test_a_device_cannot_read_another_devices_commands(
    secured_broker: SecuredBroker,
) -> None:
    async with (
        served(secured_broker) as server,
        victim(secured_broker),
        device_client(secured_broker, "pod-evil") as evil,
    ):
        await evil.subscribe(device_topic("pod-victim", "commands"), qos=1)
        await evil.subscribe("dreamcommons/v1/devices/+/commands", qos=1)
        await evil.subscribe(device_topic("pod-evil", "commands"), qos=1)
        gateway = server.devices.gateway
        assert gateway is not None
        await eventually(lambda: "pod-victim" in server.devices.registry.devices)
        ack = await gateway.command("pod-victim", "light", 0.5)  # the victim got it: it acked
        assert ack.ok
        own = device_topic("pod-evil", "commands")
        assert await topics_heard_until_own_command(gateway, evil) == [own]


async def test_a_device_cannot_subscribe_to_everything(secured_broker: SecuredBroker) -> None:
    async with (
        served(secured_broker) as server,
        victim(secured_broker) as pod,
        device_client(secured_broker, "pod-evil") as evil,
    ):
        await evil.subscribe("#", qos=1)
        await evil.subscribe("$SYS/#", qos=0)
        await asyncio.wait_for(pod.connected.wait(), within(5))
        gateway = server.devices.gateway
        assert gateway is not None
        await eventually(lambda: "pod-victim" in server.devices.registry.devices)
        await gateway.command("pod-victim", "sound", 0.2)
        start = pod.stats.messages
        await eventually(lambda: pod.stats.messages > start)  # the victim keeps talking
        own = device_topic("pod-evil", "commands")
        assert await topics_heard_until_own_command(gateway, evil) == [own]  # nothing else


async def test_a_device_cannot_command_another(secured_broker: SecuredBroker) -> None:
    async with (
        served(secured_broker) as server,
        victim(secured_broker) as pod,
        device_client(secured_broker, "pod-evil") as evil,
    ):
        forged = pack(DeviceCommand(id=666, action="light", value=1.0))
        await evil.publish(device_topic("pod-victim", "commands"), forged, qos=1)
        gateway = server.devices.gateway
        assert gateway is not None
        await eventually(lambda: "pod-victim" in server.devices.registry.devices)
        await gateway.command("pod-victim", "light", 0.25)
        assert pod.stats.commands == 1
        assert pod.actuators["light"] == 0.25


async def test_a_device_cannot_take_over_the_servers_connection(
    secured_broker: SecuredBroker,
) -> None:
    async with served(secured_broker) as server:
        gateway = server.devices.gateway
        assert gateway is not None
        who = secured_broker.device("pod-evil")
        async with aiomqtt.Client(
            secured_broker.process.host,
            secured_broker.process.port,
            identifier="dreamcommons-server",  # the server's client id: the broker ignores it
            username=who.username,
            password=who.password,
        ) as evil:
            await evil.publish(device_topic("pod-evil", "birth"), birth(), qos=1)
            await eventually(lambda: "pod-evil" in server.devices.registry.devices)
        assert gateway.stats.connects == 1
        assert gateway.connected.is_set()


async def test_real_devices_with_their_credentials_are_heard(
    secured_broker: SecuredBroker,
) -> None:
    async with served(secured_broker) as server, victim(secured_broker):
        await eventually(lambda: server.devices.registry.devices.get("pod-victim") is not None)
        record = server.devices.registry.devices["pod-victim"]
        await eventually(lambda: record.messages >= 2)
        assert unpack(birth(), DeviceBirth).firmware == "evil 1.0"


async def test_the_generated_config_runs_a_fleet_and_the_server(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "broker"
    assert main(["broker-config", "--out", str(out), "--devices", "3", "--port", str(port)]) == 0
    conf = (out / "mosquitto.conf").read_text() + ("user root\n" if os.geteuid() == 0 else "")
    (out / "mosquitto.conf").write_text(conf)
    broker = await asyncio.create_subprocess_exec(
        find_mosquitto(), "-c", str(out / "mosquitto.conf"), stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await eventually(lambda: port_open("127.0.0.1", port), "the broker listening", 10)
        server_url = (out / "server.env").read_text().split("=", 1)[1].splitlines()[0]
        passwords = read_device_credentials(out / "devices.txt")
        settings = ServerSettings(port=0, broker=server_url)
        async with (
            DreamServer(settings, load_venue("sleep-commons")) as server,
            Fleet.generate(f"mqtt://127.0.0.1:{port}", 3, passwords=passwords) as fleet,
        ):
            await fleet.wait_connected()
            registry = server.devices.registry
            await eventually(lambda: set(registry.devices) == set(passwords), seconds=10)
    finally:
        await end(broker)


async def test_the_operators_command_tool_works_with_its_own_credentials(
    secured_broker: SecuredBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = secured_broker.url(secured_broker.config.operator)
    async with victim(secured_broker) as pod:
        assert await send_command(operator, "pod-victim", "light", 0.7, within(5)) == 0
        assert pod.actuators["light"] == 0.7
        device_url = secured_broker.url(secured_broker.device("pod-evil"))
        assert await send_command(device_url, "pod-victim", "light", 0.1, 0.5) == 1
        assert pod.actuators["light"] == 0.7
    assert "pod-victim: light ok" in capsys.readouterr().out
