"""A simulated device's face in Home Assistant, as consumer firmware shows itself (ESPHome,
Tasmota, Shelly): one retained device-based discovery message, a plain availability topic, a
JSON state once a second beside the msgpack batches, and ``number`` entities for its levels.

The link rides on the device's own MQTT session (``SimulatedDevice(..., ha_discovery=True)``):
on every connection it publishes its discovery and ``online``; it publishes the discovery again
whenever Home Assistant says ``online`` on ``homeassistant/status``; a level set from Home
Assistant is obeyed and acknowledged as a server's command is (a ``CommandAck`` on ``acks``);
on a clean stop it says ``offline``, and a device that leaves for good clears its discovery.
A connection that breaks leaves ``online`` standing (the device's one will is its msgpack
``lost`` status): the sensors then go unavailable in Home Assistant through ``expire_after``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import aiomqtt
from pydantic import ValidationError

from dreamcommons.contracts.device_protocol import DeviceCommand
from dreamcommons.contracts.home_assistant import (
    HA_COMMAND_IDS,
    HA_STATUS_TOPIC,
    LEVEL_MAX,
    OFFLINE,
    ONLINE,
    device_availability_topic,
    device_config_topic,
    device_set_topic,
    device_state_topic,
    discovery_message,
    level_number,
    sensor,
    state_message,
)

if TYPE_CHECKING:
    from dreamcommons.firmware_sim.device import SimulatedDevice

__all__ = ["STATE_EVERY_S", "HomeAssistantLink"]

log = logging.getLogger(__name__)

STATE_EVERY_S: Final = 1.0
# Sensors whose state stops for this long show as unavailable: the device is gone.
_EXPIRE_AFTER_S: Final = 10

# reading (a BioSample field) -> (entity name, unit, device class, icon, decimals)
_READINGS: Final[dict[str, tuple[str, str | None, str | None, str, int]]] = {
    "hr": ("Heart rate", "bpm", None, "mdi:heart-pulse", 0),
    "hrv": ("Heart rate variability", "ms", None, "mdi:heart-flash", 0),
    "resp": ("Respiration rate", "breaths/min", None, "mdi:lungs", 1),
    "temp": ("Skin temperature", "°C", "temperature", "mdi:thermometer", 1),
    "move": ("Movement", None, None, "mdi:motion-sensor", 2),
}
_LEVELS: Final = {
    "light": ("Light", "mdi:lightbulb-night"),
    "sound": ("Sound", "mdi:volume-high"),
    "warmth": ("Warmth", "mdi:heat-wave"),
    "pressure": ("Pressure", "mdi:gesture-tap-hold"),
}
_DECIMALS: Final = {"hr": 1, "hrv": 1, "resp": 2, "temp": 2, "move": 3}


class HomeAssistantLink:
    """What ``device`` publishes for Home Assistant and what it hears from it."""

    def __init__(self, device: SimulatedDevice, sensors: Sequence[str], firmware: str) -> None:
        self._device = device
        self.device_id = device.device_id
        self.readings = tuple(name for name in sensors if name in _READINGS)
        self.levels = tuple(name for name in device.actuators if name in _LEVELS)
        self._firmware = firmware
        self.config_topic = device_config_topic(self.device_id)
        self.availability_topic = device_availability_topic(self.device_id)
        self.state_topic = device_state_topic(self.device_id)
        self._set_prefix = device_set_topic(self.device_id, "")
        self.subscriptions = (HA_STATUS_TOPIC, device_set_topic(self.device_id, "+"))
        self._command_ids = itertools.count(HA_COMMAND_IDS)
        self.announced = 0  # discovery messages published

    # --- what it publishes -------------------------------------------------------------------

    def discovery(self) -> bytes:
        """The retained device-based discovery message."""
        config = self._device.config
        uid = f"dreamcommons_{self.device_id}"
        components: dict[str, dict[str, object]] = {}
        for key in self.readings:
            name, unit, device_class, icon, precision = _READINGS[key]
            components[key] = sensor(
                f"{uid}_{key}",
                key,
                name,
                unit=unit,
                device_class=device_class,
                icon=icon,
                precision=precision,
                expire_after=_EXPIRE_AFTER_S,
            )
        for key in self.levels:
            name, icon = _LEVELS[key]
            components[key] = level_number(
                f"{uid}_{key}", key, name, device_set_topic(self.device_id, key), icon=icon
            )
        device = {
            "ids": [uid],
            "name": f"{config.model} {self.device_id}",
            "mf": "dreamcommons",
            "mdl": config.model,
            "sw": self._firmware,
            "sn": self.device_id,
        }
        return discovery_message(
            device,
            components,
            availability_topic=self.availability_topic,
            state_topic=self.state_topic,
        )

    def state(self) -> bytes | None:
        """The JSON state: the latest reading and the levels in percent (None before the
        first reading)."""
        reading = self._device.last_reading
        if reading is None:
            return None
        values: dict[str, object] = {}
        for key in self.readings:
            value = getattr(reading, key)
            if value is not None:
                values[key] = round(value, _DECIMALS[key])
        for key in self.levels:
            values[key] = round(self._device.actuators[key] * LEVEL_MAX)
        return state_message(values)

    async def connected(self, client: aiomqtt.Client) -> None:
        """Announce the device and say it is online (on every connection)."""
        await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        await self.announce(client)

    async def announce(self, client: aiomqtt.Client) -> None:
        await client.publish(self.config_topic, self.discovery(), qos=1, retain=True)
        self.announced += 1
        await self.publish_state(client)  # HA reads the state anew after a discovery

    async def publish_state(self, client: aiomqtt.Client) -> None:
        payload = self.state()
        if payload is not None:
            await client.publish(self.state_topic, payload, qos=0)

    async def publish_states(self, client: aiomqtt.Client) -> None:
        """The state once a second, until cancelled."""
        while True:
            await asyncio.sleep(STATE_EVERY_S)
            await self.publish_state(client)

    async def leaving(self, client: aiomqtt.Client, *, for_good: bool, within_s: float) -> None:
        """Say ``offline``; a device leaving for good also removes itself from HA."""
        await client.publish(self.availability_topic, OFFLINE, qos=1, retain=True, timeout=within_s)
        if for_good:
            for topic in (self.config_topic, self.availability_topic):
                await client.publish(topic, b"", qos=1, retain=True, timeout=within_s)

    # --- what it hears -----------------------------------------------------------------------

    def hears(self, topic: str) -> bool:
        return topic == HA_STATUS_TOPIC or topic.startswith(self._set_prefix)

    async def heard(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Home Assistant's birth (announce again) or a level set from it (obey and ack)."""
        topic = str(message.topic)
        payload = message.payload
        text = payload.decode(errors="replace") if isinstance(payload, bytes | bytearray) else ""
        if topic == HA_STATUS_TOPIC:
            if text == ONLINE and not message.retain:  # a retained one came before our own
                log.info("%s: Home Assistant is online; announcing again", self.device_id)
                await self.announce(client)
            return
        action = topic.removeprefix(self._set_prefix)
        command_id = next(self._command_ids)
        if action not in self.levels:
            await self._device.refuse(
                client, command_id, f"{action} is not a level of this device from Home Assistant"
            )
            return
        try:
            level = float(text)
            command = DeviceCommand(id=command_id, action=action, value=level / LEVEL_MAX)
        except (ValueError, ValidationError):
            await self._device.refuse(
                client, command_id, f"{action} takes a number 0..{LEVEL_MAX}, got {text[:20]!r}"
            )
            return
        self._device.stats.commands += 1
        await self._device.obey(client, command)
        await self.publish_state(client)  # HA's number shows the level the device took
