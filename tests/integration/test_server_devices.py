"""The server's device side on a real Mosquitto: a real DreamServer with a broker, real
simulated devices from firmware_sim, and participants on real WebSockets."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.device_protocol import BioSample, SampleBatch, device_topic, pack
from dreamcommons.contracts.protocol import ParticipantView
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.firmware_sim.faults import Faults
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.registry import DeviceRecord
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons, read_until
from tests.waiting import eventually as until

pytestmark = pytest.mark.integration

SESSION = "commons"


@pytest.fixture
async def server(mosquitto: MosquittoProcess) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(
        port=0, broker=mosquitto.url, device_command_wait_s=1.0, open_sessions=("*",)
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as dream_server:
        gateway = dream_server.devices.gateway
        assert gateway is not None
        async with asyncio.timeout(within(5)):
            await gateway.connected.wait()
        yield dream_server


def url_of(server: DreamServer) -> str:
    return f"ws://127.0.0.1:{server.port}/{SESSION}"


def record(server: DreamServer, device_id: str) -> DeviceRecord | None:
    return server.devices.registry.devices.get(device_id)


async def announced(server: DreamServer, device_id: str) -> DeviceRecord:
    await until(lambda: record(server, device_id), f"{device_id} announced")
    found = record(server, device_id)
    assert found is not None
    return found


def seen(client: DreamClient, pid: str) -> ParticipantView:
    """Participant ``pid`` as ``client`` sees them (a blank view before the state has them)."""
    blank = ParticipantView(id=pid, name="?", role="dreamer")
    return next((p for p in client.state.participants if p.id == pid), blank)


def pod(device_id: str, code: str, seed: int = 11) -> DeviceConfig:
    return DeviceConfig.generate(
        "pod", seed, device_id=device_id, pairing_code=code, acceleration=120.0
    )


async def test_a_paired_pod_gives_its_sleeper_a_stage_shown_while_they_share(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    async with (
        SimulatedDevice(pod("pod-lyra", "KYRA42ZZZZ"), mosquitto.url),
        DreamClient(url_of(server), "Lyra") as lyra,
        DreamClient(url_of(server), "Zara") as zara,
    ):
        await announced(server, "pod-lyra")
        paired = await lyra.pair_device("KYRA42ZZZZ")
        assert (paired.device, paired.kind) == ("pod-lyra", "pod")
        with pytest.raises(Refused, match="pairing_refused"):
            await zara.pair_device("KYRA42ZZZZ")  # spent: nobody else can claim Lyra's pod
        pid = lyra.participant
        await lyra.share(None, show_stage=True)  # Lyra lets the others see her stage

        await zara.wait_for(lambda _: seen(zara, pid).stage is not None, within(10))
        session = server.sessions[SESSION]
        estimate = server.devices.sleepers.last(f"{SESSION}/{pid}")
        assert estimate is not None
        assert estimate.stage is not None
        assert seen(zara, pid).devices == 1
        assert seen(zara, pid).stage in ("awake", "light", "deep", "rem")

        await lyra.share(0.0)  # consent: a sleeper who shares nothing shows no stage either
        await zara.wait_for(lambda _: seen(zara, pid).stage is None, within(5))
        estimates = session.stats.sleeper_updates
        await until(lambda: session.stats.sleeper_updates > estimates + 1, "still estimated")
        assert seen(zara, pid).stage is None
        await lyra.share(1.0)
        await lyra.wait_for(lambda _: seen(lyra, pid).stage is not None, within(5))
    assert record(server, "pod-lyra") is not None
    assert server.devices.registry.devices["pod-lyra"].owner == f"{SESSION}/{lyra.participant}"


async def test_a_killed_device_goes_offline_through_its_will(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    async with (
        dreamcommons(
            "device", "pod", "--broker", mosquitto.url, "--id", "pod-killed", "--pair", "KQKK23ZZZZ"
        ) as device,
        DreamClient(url_of(server), "Tariq") as tariq,
    ):
        await read_until(device, "pairing code", within(15))
        await announced(server, "pod-killed")
        await tariq.pair_device("KQKK23ZZZZ")
        pid = tariq.participant
        await tariq.wait_for(lambda _: seen(tariq, pid).devices == 1, within(5))
        device.kill()  # no goodbye: only the broker's copy of the will can tell
        await device.wait()
        await until(lambda: not server.devices.registry.devices["pod-killed"].online, "offline")
        await tariq.wait_for(lambda _: seen(tariq, pid).devices == 0, within(5))
        result = await tariq.command("pod-killed", "light", 0.5)
    assert not result.ok
    assert "offline" in str(result.error)
    assert server.devices.registry.online_count() == 0


async def test_devices_and_the_server_come_back_after_a_broker_restart(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    gateway = server.devices.gateway
    assert gateway is not None
    async with (
        Fleet.generate(mosquitto.url, 3, seed=5, acceleration=120.0) as fleet,
        DreamClient(url_of(server), "Kai") as kai,
    ):
        for device in fleet.devices:
            await announced(server, device.device_id)
            await kai.pair_device(device.config.pairing_code)
        session = server.sessions[SESSION]
        await until(lambda: server.devices.summary()["bio_samples"] >= 30, "streaming")

        dropped_before = sum(d.stats.dropped_offline for d in fleet.devices)
        await mosquitto.stop()
        async with asyncio.timeout(within(10)):
            while gateway.connected.is_set():  # noqa: ASYNC110 - an Event has no wait-for-clear
                await asyncio.sleep(0.02)
            await asyncio.gather(*(d.disconnected.wait() for d in fleet.devices))
        await until(  # every device finishes a batch it cannot send, and counts it
            lambda: all(d.stats.dropped_offline > 0 for d in fleet.devices), "dropping", 10
        )
        before = server.devices.summary()
        updates = session.stats.sleeper_updates
        await mosquitto.start()

        async with asyncio.timeout(within(15)):
            await gateway.connected.wait()
            await fleet.wait_connected()
        await until(
            lambda: server.devices.summary()["bio_samples"] >= before["bio_samples"] + 30,
            "streaming again",
            15,
        )
        await until(lambda: session.stats.sleeper_updates > updates + 3, "estimating again", 10)
        dropped = sum(d.stats.dropped_offline for d in fleet.devices) - dropped_before
    after = server.devices.summary()
    assert gateway.stats.connects == 2
    assert all(device.stats.reconnects == 1 for device in fleet.devices)
    assert after["devices_paired"] == 3
    assert after["samples_lost"] >= dropped * 5  # each device's seq gap is counted, not hidden


async def test_garbage_is_counted_and_dropped_and_the_stream_goes_on(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    faulty = SimulatedDevice(
        DeviceConfig.generate(
            "fabric", 3, device_id="fabric-noisy", pairing_code="NQSY22ZZZZ", batch=1
        ),
        mosquitto.url,
        faults=Faults(garbage=0.4),
    )
    async with (
        faulty,
        SimulatedDevice(pod("pod-clean", "CQEAN2ZZZZ"), mosquitto.url),
        DreamClient(url_of(server), "Eamon") as eamon,
        aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-vandal") as vandal,
    ):
        await announced(server, "fabric-noisy")
        await announced(server, "pod-clean")
        await eamon.pair_device("NQSY22ZZZZ")
        for leaf, payload in (
            ("birth", b"\xc1\xc1"),
            ("status", b"\x93\x01\x02\x03"),
            ("samples", b"{not msgpack"),
            ("acks", b"\x81\xa2id\xa4nope"),
            ("events", b""),
        ):
            await vandal.publish(device_topic("pod-clean", leaf), payload, qos=1)
        stray = SampleBatch(seq=0, bd_seq=0, samples=(BioSample(t=0.0),))
        await vandal.publish(device_topic("pod-unknown", "samples"), pack(stray), qos=1)
        gateway = server.devices.gateway
        assert gateway is not None
        clean = server.devices.registry.devices["pod-clean"]
        noisy = server.devices.registry.devices["fabric-noisy"]
        await until(lambda: noisy.rejected >= 3 and clean.rejected >= 4, "garbage counted")
        samples = clean.samples, noisy.samples
        await until(
            lambda: clean.samples > samples[0] + 10 and noisy.samples > samples[1] + 10,
            "both still streaming",
        )
        updates = server.sessions[SESSION].stats.sleeper_updates
        await until(lambda: server.sessions[SESSION].stats.sleeper_updates > updates, "estimated")
        assert clean.online  # garbage on its topics does not take the device down
    rejected = gateway.stats.rejected
    assert rejected["malformed_frame"] >= 3
    assert rejected["invalid_field"] >= 1
    assert rejected["unknown_device"] == 1
    assert faulty.stats.garbled >= 3


async def test_commands_reach_their_device_and_are_acknowledged(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    fabric = DeviceConfig.generate("fabric", 4, device_id="fabric-mia", pairing_code="MAMAMAZZZZ")
    async with (
        SimulatedDevice(pod("pod-leo", "KEQKEQZZZZ"), mosquitto.url) as leo_pod,
        SimulatedDevice(fabric, mosquitto.url) as mia_fabric,
        DreamClient(url_of(server), "Leo") as leo,
        DreamClient(url_of(server), "Mia") as mia,
    ):
        await announced(server, "pod-leo")
        await announced(server, "fabric-mia")
        await leo.pair_device("KEQKEQZZZZ")
        await mia.pair_device("MAMAMAZZZZ")

        light = await leo.command("pod-leo", "light", 0.4)
        paced = await leo.command("pod-leo", "pace", 0.1)
        warmth = await mia.command("fabric-mia", "warmth", 0.7)
        refused = await mia.command("fabric-mia", "light", 0.2)
        with pytest.raises(Refused, match="forbidden"):
            await mia.command("pod-leo", "light", 1.0)  # not hers

        async with dreamcommons(
            "command", "--broker", mosquitto.url, "pod-leo", "sound", "0.6", "--wait", "5"
        ) as host:
            output, _ = await asyncio.wait_for(host.communicate(), within(15))
        async with dreamcommons(
            "command", "--broker", mosquitto.url, "pod-nobody", "sound", "0.6", "--wait", "0.5"
        ) as nobody:
            missing, _ = await asyncio.wait_for(nobody.communicate(), within(15))
    assert light.ok
    assert paced.ok
    assert warmth.ok
    assert not refused.ok
    assert "light is not an action of a fabric" in str(refused.error)
    assert leo_pod.actuators["light"] == 0.4
    assert leo_pod.pace_hz == 0.1
    assert mia_fabric.actuators["warmth"] == 0.7
    assert host.returncode == 0, output.decode()
    assert "pod-leo: sound ok" in output.decode()
    assert leo_pod.actuators["sound"] == 0.6
    assert nobody.returncode == 1
    assert "did not acknowledge" in missing.decode()


async def test_a_command_to_a_silent_device_times_out(
    server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    async with (
        dreamcommons(
            "device", "pod", "--broker", mosquitto.url, "--id", "pod-frozen", "--pair", "FRQZEN23ZZ"
        ) as device,
        DreamClient(url_of(server), "Nia") as nia,
    ):
        await read_until(device, "pairing code", within(15))
        await announced(server, "pod-frozen")
        await nia.pair_device("FRQZEN23ZZ")
        assert (await nia.command("pod-frozen", "light", 0.1)).ok
        device.send_signal(signal.SIGSTOP)  # connected, but no longer answering
        try:
            result = await nia.command("pod-frozen", "light", 0.9)
        finally:
            device.send_signal(signal.SIGCONT)
        assert server.devices.registry.devices["pod-frozen"].online
    assert not result.ok
    assert "did not acknowledge light" in str(result.error)
