"""What dreamcommons shows Home Assistant through its MQTT discovery: the topics, the plain
payloads, and the device-based discovery messages (``docs/home-assistant.md``).

    homeassistant/status                                HA's birth and will: online | offline
    homeassistant/device/{device_id}/config             retained: a device's discovery (JSON)
    homeassistant/device/dreamcommons-{server}/{session}/config   retained: a session's (JSON)
    dreamcommons/v1/devices/{device_id}/availability    retained: online | offline
    dreamcommons/v1/devices/{device_id}/state           JSON readings and levels, once a second
    dreamcommons/v1/devices/{device_id}/set/{action}    from HA: a level, a number 0..100
    dreamcommons/v1/servers/{server}/sessions/{session}/state   JSON aggregates, once a second

A discovery message follows Home Assistant's device-based discovery: the ``dev`` (device) and
``o`` (origin) blocks, shared ``availability``, ``state_topic`` and ``qos``, and one component
per entity under ``cmps``, each with its platform ``p`` and a ``unique_id``. Every
``value_template`` is ``{{ value_json.KEY }}``: the state topic's JSON carries ``KEY``.
An empty retained payload on the config topic removes the device from Home Assistant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from dreamcommons.contracts.device_protocol import SERVER_ROOT, TOPIC_ROOT

DISCOVERY_PREFIX: Final = "homeassistant"
HA_STATUS_TOPIC: Final = f"{DISCOVERY_PREFIX}/status"
ONLINE: Final = "online"
OFFLINE: Final = "offline"
LEVEL_MAX: Final = 100  # a level from HA is a percentage; the device protocol's is 0..1
# Commands from Home Assistant carry no id: the device numbers them from here, above every id
# a server gives (a server counts from milliseconds mod 2**40), so acks never cross.
HA_COMMAND_IDS: Final = 2**52
SET_LEAF: Final = "set"


def _origin_version() -> str:
    try:
        return version("dreamcommons")
    except PackageNotFoundError:  # a source tree that was not installed
        return "0"


ORIGIN: Final = {"name": "dreamcommons", "sw": _origin_version()}


def device_config_topic(device_id: str) -> str:
    return f"{DISCOVERY_PREFIX}/device/{device_id}/config"


def session_config_topic(server: str, session: str) -> str:
    """A session's discovery: the node id ``dreamcommons-{server}`` keeps the sessions of
    several servers on one broker apart, and apart from the devices' one-level ids."""
    return f"{DISCOVERY_PREFIX}/device/dreamcommons-{server}/{session}/config"


def device_availability_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/availability"


def device_state_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/state"


def device_set_topic(device_id: str, action: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{SET_LEAF}/{action}"


def session_state_topic(server: str, session: str) -> str:
    return f"{SERVER_ROOT}/{server}/sessions/{session}/state"


def value_of(key: str) -> str:
    """The ``value_template`` reading ``key`` of the state topic's JSON."""
    return "{{ value_json.%s }}" % key  # noqa: UP031 (braces are the template's)


def _component(
    platform: str, unique_id: str, key: str, name: str, **options: object
) -> dict[str, object]:
    """A component of ``platform`` reading ``key`` of the shared state topic; options that
    are None are left out (HA's defaults)."""
    component: dict[str, object] = {
        "p": platform,
        "name": name,
        "unique_id": unique_id,
        "value_template": value_of(key),
    }
    component.update({option: value for option, value in options.items() if value is not None})
    return component


def sensor(
    unique_id: str,
    key: str,
    name: str,
    *,
    unit: str | None = None,
    device_class: str | None = None,
    icon: str | None = None,
    precision: int | None = None,
    expire_after: int | None = None,
) -> dict[str, object]:
    """A ``sensor`` component: a measurement."""
    return _component(
        "sensor",
        unique_id,
        key,
        name,
        state_class="measurement",
        unit_of_measurement=unit,
        device_class=device_class,
        icon=icon,
        suggested_display_precision=precision,
        expire_after=expire_after,
    )


def text_sensor(unique_id: str, key: str, name: str, *, icon: str) -> dict[str, object]:
    """A ``sensor`` component whose state is a word, not a measurement."""
    return _component("sensor", unique_id, key, name, icon=icon)


def binary_sensor(
    unique_id: str, key: str, name: str, *, icon: str, device_class: str | None = None
) -> dict[str, object]:
    """A ``binary_sensor`` component: ``ON`` or ``OFF`` (HA's defaults)."""
    return _component("binary_sensor", unique_id, key, name, icon=icon, device_class=device_class)


def level_number(
    unique_id: str, key: str, name: str, command_topic: str, *, icon: str
) -> dict[str, object]:
    """A ``number`` component: a level 0..100 % that HA sets on ``command_topic``."""
    return _component(
        "number",
        unique_id,
        key,
        name,
        command_topic=command_topic,
        min=0,
        max=LEVEL_MAX,
        step=1,
        mode="slider",
        unit_of_measurement="%",
        icon=icon,
    )


def discovery_message(
    device: Mapping[str, object],
    components: Mapping[str, Mapping[str, object]],
    *,
    availability_topic: str,
    state_topic: str,
) -> bytes:
    """A device-based discovery payload (JSON): ``device`` is the ``dev`` block."""
    payload = {
        "dev": device,
        "o": ORIGIN,
        "availability": [{"topic": availability_topic}],
        "state_topic": state_topic,
        "qos": 1,
        "cmps": components,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def on_off(flag: bool) -> str:
    """A binary sensor's state as Home Assistant reads it by default."""
    return "ON" if flag else "OFF"


def state_message(values: Mapping[str, object]) -> bytes:
    return json.dumps(values, separators=(",", ":")).encode()
