"""Home Assistant's device-based MQTT discovery, as its documentation states it, for checking
what dreamcommons publishes (home-assistant.io, integrations/mqtt: "Device discovery payload",
"Supported abbreviations", "Using Availability topics"; integrations/sensor.mqtt,
binary_sensor.mqtt and number.mqtt for the options of each platform).

- The topic is ``<prefix>/device/[<node_id>/]<object_id>/config``, ids of ``[a-zA-Z0-9_-]``.
- The payload is a JSON object whose keys may be abbreviated; ``device`` (``dev``) and
  ``origin`` (``o``) are required, the device with ``identifiers`` or ``connections`` and a
  ``name``, the origin with a ``name``.
- ``components`` (``cmps``) maps component ids to configs, each with its ``platform`` (``p``),
  at least one option of its own, and a ``unique_id`` for an entity.
- ``availability``, ``state_topic``, ``command_topic``, ``qos`` and ``encoding`` may be shared
  at the root and are inherited by the components.
- sensor and binary_sensor need a ``state_topic``; number needs a ``command_topic``; a
  temperature sensor measures in °C, °F or K.

On top of that, what dreamcommons promises: availability on every entity, and every
``value_template`` of the form ``{{ value_json.KEY }}``, so that the state topic's JSON can be
checked for ``KEY``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The abbreviations of HA's documented list that can occur in what dreamcommons publishes.
ABBREVIATIONS = {
    "avty": "availability",
    "avty_t": "availability_topic",
    "cmd_t": "command_topic",
    "cmps": "components",
    "dev": "device",
    "dev_cla": "device_class",
    "exp_aft": "expire_after",
    "ic": "icon",
    "o": "origin",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_on": "payload_on",
    "pl_off": "payload_off",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections",
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "hw": "hw_version",
    "sw": "sw_version",
    "sn": "serial_number",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url"}
SHARED = ("availability", "availability_topic", "state_topic", "command_topic", "qos", "encoding")
PLATFORMS = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover",
    "device_automation", "device_tracker", "event", "fan", "humidifier", "image",
    "lawn_mower", "light", "lock", "notify", "number", "scene", "select", "sensor", "siren",
    "switch", "tag", "text", "update", "vacuum", "valve", "water_heater",
}  # fmt: skip
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
TEMPERATURE_UNITS = {"°C", "°F", "K"}
NUMBER_MODES = {"auto", "box", "slider"}
TOPIC = re.compile(r"^homeassistant/device/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$")
COMPONENT_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
TEMPLATE = re.compile(r"^\{\{ value_json\.([A-Za-z_][A-Za-z0-9_]*) \}\}$")


@dataclass(frozen=True, slots=True)
class Entity:
    """One component of a discovery message, its shared options inherited."""

    platform: str
    unique_id: str
    key: str  # what its value_template reads of the state topic's JSON
    state_topic: str
    availability: tuple[str, ...]
    config: Mapping[str, Any]


def _expanded(mapping: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    return {table.get(key, key): value for key, value in mapping.items()}


def discovery_entities(topic: str, payload: bytes) -> list[Entity]:
    """The entities of one discovery message, or ``AssertionError`` saying what is wrong."""
    assert TOPIC.match(topic), f"{topic}: not a device discovery topic"
    document = json.loads(payload)
    assert isinstance(document, dict), f"{topic}: the payload must be a JSON object"
    root = _expanded(document, ABBREVIATIONS)
    assert isinstance(root.get("device"), dict), f"{topic}: no device (dev) mapping"
    assert isinstance(root.get("origin"), dict), f"{topic}: no origin (o) mapping"
    device = _expanded(root["device"], DEVICE_ABBREVIATIONS)
    identifiers = device.get("identifiers") or device.get("connections")
    assert identifiers, f"{topic}: the device needs identifiers or connections"
    assert isinstance(device.get("name"), str), f"{topic}: a device name"
    assert device["name"], f"{topic}: a device name"
    origin = _expanded(root["origin"], ORIGIN_ABBREVIATIONS)
    assert isinstance(origin.get("name"), str), f"{topic}: an origin name"
    assert origin["name"], f"{topic}: an origin name"
    components = root.get("components")
    assert isinstance(components, dict), f"{topic}: no components (cmps)"
    assert components, f"{topic}: no components (cmps)"
    shared = {key: root[key] for key in SHARED if key in root}
    return [
        _entity(f"{topic} {component_id}", component_id, config, shared)
        for component_id, config in components.items()
    ]


def _entity(where: str, component_id: str, raw: Any, shared: Mapping[str, Any]) -> Entity:
    assert COMPONENT_ID.match(component_id), f"{where}: component id of [a-zA-Z0-9_-]"
    assert isinstance(raw, dict), f"{where}: a component is a mapping"
    own = _expanded(raw, ABBREVIATIONS)
    platform = own.get("platform")
    assert platform in PLATFORMS, f"{where}: platform {platform!r} is not an MQTT platform"
    assert len(own) >= 2, f"{where}: a component needs an option besides its platform"
    config = {**shared, **own}
    unique_id = config.get("unique_id")
    assert isinstance(unique_id, str), f"{where}: an entity needs a unique_id"
    assert unique_id, f"{where}: an entity needs a unique_id"
    availability = _availability(where, config)
    qos = config.get("qos", 0)
    assert qos in (0, 1, 2), f"{where}: qos {qos!r}"
    if platform == "number":
        assert isinstance(config.get("command_topic"), str), f"{where}: a number's command_topic"
        low, high = config.get("min", 1), config.get("max", 100)
        assert low < high, f"{where}: min {low} is not under max {high}"
        assert config.get("step", 1) >= 0.001, f"{where}: step under 0.001"
        assert config.get("mode", "auto") in NUMBER_MODES, f"{where}: mode"
    state_topic = config.get("state_topic")
    assert isinstance(state_topic, str), f"{where}: no state_topic"
    assert state_topic, f"{where}: no state_topic"
    if platform == "sensor":
        state_class = config.get("state_class")
        assert state_class is None or state_class in STATE_CLASSES, f"{where}: state_class"
        if config.get("device_class") == "temperature":
            unit = config.get("unit_of_measurement")
            assert unit in TEMPERATURE_UNITS, f"{where}: a temperature in {unit!r}"
        expire = config.get("expire_after")
        assert expire is None or (isinstance(expire, int) and expire > 0), f"{where}: expire"
    template = config.get("value_template")
    found = TEMPLATE.match(template) if isinstance(template, str) else None
    assert found, f"{where}: value_template {template!r} is not {{{{ value_json.KEY }}}}"
    return Entity(platform, unique_id, found.group(1), state_topic, availability, config)


def _availability(where: str, config: Mapping[str, Any]) -> tuple[str, ...]:
    listed = config.get("availability")
    single = config.get("availability_topic")
    assert not (listed and single), f"{where}: availability and availability_topic both set"
    if single is not None:
        return (single,)
    assert isinstance(listed, list), f"{where}: no availability"
    assert listed, f"{where}: no availability"
    topics = []
    for entry in listed:
        item = _expanded(entry, ABBREVIATIONS)
        assert isinstance(item.get("topic"), str), f"{where}: an availability entry's topic"
        assert item.get("payload_available", "online") == "online", f"{where}: not plain online"
        assert item.get("payload_not_available", "offline") == "offline", f"{where}: offline"
        topics.append(item["topic"])
    return tuple(topics)


def check_state(entity: Entity, state: Mapping[str, Any]) -> None:
    """``state`` (a JSON object from the entity's state topic) gives the entity a value."""
    where = f"{entity.unique_id} on {entity.state_topic}"
    assert entity.key in state, f"{where}: the state has no {entity.key!r}"
    value = state[entity.key]
    config = entity.config
    if entity.platform == "binary_sensor":
        allowed = {config.get("payload_on", "ON"), config.get("payload_off", "OFF")}
        assert value in allowed, f"{where}: {value!r} is neither of {sorted(allowed)}"
    elif entity.platform == "number":
        assert _numeric(value), f"{where}: {value!r} is not a number"
        assert config.get("min", 1) <= value <= config.get("max", 100), f"{where}: {value}"
    elif entity.platform == "sensor" and "state_class" in config:
        # None renders as HA's "None" payload: unknown (before there is a value)
        assert value is None or _numeric(value), f"{where}: {value!r} is not a measurement"
    else:
        assert isinstance(value, str), f"{where}: {value!r} is not text"
        assert value, f"{where}: an empty state"


def _numeric(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
