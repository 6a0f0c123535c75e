"""Home Assistant's view of dreamcommons on a real Mosquitto: every discovery message a
subscriber hears follows HA's documented device-based discovery (``tests/ha_schema.py``), every
state topic carries what the entities' templates read, a level set from HA is obeyed and
acknowledged, HA's ``online`` brings the discovery again, and leaving clears it; a session
shows by its aggregates only.
"""

from __future__ import annotations

import asyncio

import pytest

from dreamcommons.contracts.device_protocol import CommandAck, device_topic, unpack
from dreamcommons.contracts.home_assistant import (
    HA_COMMAND_IDS,
    HA_STATUS_TOPIC,
    device_availability_topic,
    device_config_topic,
    device_set_topic,
    device_state_topic,
    session_config_topic,
    session_state_topic,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.broker_watch import Watch, publish, watching
from tests.ha_schema import Entity, check_state, discovery_entities
from tests.processes import dreamcommons, end, read_until
from tests.waiting import within

pytestmark = pytest.mark.integration

DEVICE_TOPICS = (
    "homeassistant/#",
    "dreamcommons/v1/devices/+/state",
    "dreamcommons/v1/devices/+/+",
)


def entities_of(watch: Watch, topic: str) -> list[Entity]:
    payload = watch.last(topic)
    assert payload, f"no discovery on {topic}"
    return discovery_entities(topic, payload)


def check_every_state(watch: Watch, entities: list[Entity]) -> None:
    for entity in entities:
        states = watch.json_on(entity.state_topic)
        assert states, f"nothing on {entity.state_topic}"
        check_state(entity, states[-1])


def pod(device_id: str, seed: int = 1) -> DeviceConfig:
    return DeviceConfig.generate("pod", seed, device_id=device_id, sample_hz=10, batch=5)


async def test_a_fleet_shows_every_device_to_home_assistant(mosquitto: MosquittoProcess) -> None:
    async with watching(mosquitto, *DEVICE_TOPICS) as watch:
        fleet = Fleet.generate(
            mosquitto.url, 2, fabric_share=0.5, seed=5, sample_hz=10, ha_discovery=True
        )
        async with fleet:
            ids = [device.device_id for device in fleet.devices]
            await watch.until(
                lambda: all(watch.json_on(device_state_topic(i)) for i in ids), "both states"
            )
            entities = [e for i in ids for e in entities_of(watch, device_config_topic(i))]
            check_every_state(watch, entities)
            for device_id in ids:
                assert watch.last(device_availability_topic(device_id)) == b"online"
    unique_ids = [entity.unique_id for entity in entities]
    assert len(set(unique_ids)) == len(unique_ids)
    by_platform = {(e.platform, e.key) for e in entities}
    readings = {"hr", "hrv", "resp", "move", "temp"}
    assert {key for platform, key in by_platform if platform == "sensor"} == readings
    assert {key for platform, key in by_platform if platform == "number"} == {
        "light",
        "sound",
        "warmth",
        "pressure",
    }
    for entity in entities:
        assert entity.availability == (device_availability_topic(entity.state_topic.split("/")[3]),)
        if entity.platform == "sensor":
            assert entity.config["state_class"] == "measurement"
    (temp,) = [e for e in entities if e.key == "temp"]
    assert temp.config["device_class"] == "temperature"
    assert temp.config["unit_of_measurement"] == "°C"
    units = {e.key: e.config.get("unit_of_measurement") for e in entities}
    assert (units["hr"], units["resp"], units["hrv"]) == ("bpm", "breaths/min", "ms")


async def test_a_level_set_in_home_assistant_is_obeyed_and_acknowledged(
    mosquitto: MosquittoProcess,
) -> None:
    device_id = "pod-ha-level"
    acks = device_topic(device_id, "acks")
    async with (
        watching(mosquitto, acks, device_state_topic(device_id)) as watch,
        SimulatedDevice(pod(device_id), mosquitto.url, ha_discovery=True) as device,
    ):
        await asyncio.wait_for(device.connected.wait(), within(10))
        await publish(mosquitto, device_set_topic(device_id, "light"), "40")
        await watch.until(lambda: watch.on(acks), "the ack")
        ack = unpack(watch.on(acks)[0].payload, CommandAck)
        assert ack.ok
        assert ack.id >= HA_COMMAND_IDS
        assert device.actuators["light"] == pytest.approx(0.4)
        await watch.until(
            lambda: any(s.get("light") == 40 for s in watch.json_on(device_state_topic(device_id))),
            "the state showing the level",
        )
        await publish(mosquitto, device_set_topic(device_id, "light"), "bright")
        await publish(mosquitto, device_set_topic(device_id, "pace"), "10")
        await watch.until(lambda: len(watch.on(acks)) == 3, "two more acks")
        refused = [unpack(h.payload, CommandAck) for h in watch.on(acks)[1:]]
        assert [a.ok for a in refused] == [False, False]
        assert "0..100" in (refused[0].error or "")
        assert "not a level" in (refused[1].error or "")
        assert len({a.id for a in [ack, *refused]}) == 3
        assert device.actuators["light"] == pytest.approx(0.4)
        assert device.pace_hz is None


async def test_home_assistant_coming_online_brings_the_discovery_again(
    mosquitto: MosquittoProcess,
) -> None:
    device_id = "pod-ha-again"
    config_topic = device_config_topic(device_id)
    async with (
        watching(mosquitto, config_topic) as watch,
        SimulatedDevice(pod(device_id), mosquitto.url, ha_discovery=True) as device,
    ):
        await watch.until(lambda: len(watch.on(config_topic)) == 1, "the discovery")
        await publish(mosquitto, HA_STATUS_TOPIC, "offline")
        await publish(mosquitto, HA_STATUS_TOPIC, "online")
        await watch.until(lambda: len(watch.on(config_topic)) == 2, "the discovery again")
        assert device.home_assistant is not None
        assert device.home_assistant.announced == 2
        assert watch.on(config_topic)[0].payload == watch.on(config_topic)[1].payload


async def test_a_device_that_stops_says_offline_and_stays_discovered(
    mosquitto: MosquittoProcess,
) -> None:
    device_id = "pod-ha-pause"
    device = SimulatedDevice(pod(device_id), mosquitto.url, ha_discovery=True)
    async with device:
        await asyncio.wait_for(device.connected.wait(), within(10))
    async with watching(
        mosquitto, device_config_topic(device_id), device_availability_topic(device_id)
    ) as watch:
        await watch.until(lambda: len(watch.heard) == 2, "the retained discovery and availability")
    assert watch.last(device_availability_topic(device_id)) == b"offline"
    assert all(h.retain for h in watch.heard)
    discovery_entities(
        device_config_topic(device_id), watch.last(device_config_topic(device_id)) or b""
    )


async def test_a_device_leaving_for_good_clears_its_discovery(mosquitto: MosquittoProcess) -> None:
    device_id = "pod-ha-leaver"
    config_topic = device_config_topic(device_id)
    availability = device_availability_topic(device_id)
    async with watching(mosquitto, config_topic, availability) as watch:
        argv = ["device", "pod", "--id", device_id, "--leave", "--ha-discovery"]
        async with dreamcommons(*argv, "--broker", mosquitto.url) as process:
            await read_until(process, "connected", within(20))
            await watch.until(lambda: watch.last(config_topic), "the discovery")
            await end(process, grace=within(15))  # a clean stop, however loaded the machine
            assert process.returncode == 0
        await watch.until(lambda: watch.last(config_topic) == b"", "the discovery cleared")
    assert [h.payload for h in watch.on(availability)] == [b"online", b"offline", b""]


async def test_each_session_shows_in_home_assistant_by_its_aggregates_only(
    mosquitto: MosquittoProcess,
) -> None:
    config_topic = session_config_topic("house", "commons")
    state_topic = session_state_topic("house", "commons")
    status = "dreamcommons/v1/servers/house/status"
    settings = ServerSettings(port=0, broker=mosquitto.url, server_name="house", ha_discovery=True)
    async with watching(mosquitto, "homeassistant/#", "dreamcommons/v1/servers/#") as watch:
        async with DreamServer(settings, load_venue("sleep-commons")) as server:
            server.session("commons")
            await watch.until(lambda: len(watch.json_on(state_topic)) >= 2, "two states")
            entities = entities_of(watch, config_topic)
            check_every_state(watch, entities)
            assert watch.last(status) == b"online"
            await publish(mosquitto, HA_STATUS_TOPIC, "online")
            await watch.until(lambda: len(watch.on(config_topic)) == 2, "the discovery again")
        await watch.until(lambda: watch.last(status) == b"offline", "the goodbye")
        await watch.until(lambda: watch.last(config_topic) == b"", "the session cleared")
    assert {(e.platform, e.key) for e in entities} == {
        ("sensor", "participants"),
        ("sensor", "sleepers"),
        ("sensor", "phase"),
        ("sensor", "coherence"),
        ("binary_sensor", "fractured"),
        ("binary_sensor", "harmonizing"),
    }
    assert all(e.availability == (status,) for e in entities)
    assert set(watch.json_on(state_topic)[-1]) == {e.key for e in entities}  # nothing else
