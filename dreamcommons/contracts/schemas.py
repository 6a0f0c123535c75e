"""The wire, machine-readable: JSON Schema for every message, and an AsyncAPI 3.0 document of
the WebSocket API and the MQTT device API, all made from the pydantic models.

The files are committed under ``docs/`` and a test fails when they drift from the models;
remake them with ``python -m dreamcommons.contracts.schemas docs``. Schemas describe what a
receiver accepts (pydantic's validation schema): a field with a default may be left out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, get_args

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from dreamcommons.contracts import device_protocol as devices
from dreamcommons.contracts.protocol import (
    PROTOCOL_VERSION,
    AnyClientMessage,
    AnyServerMessage,
    ClientMessage,
    Encoding,
    ServerMessage,
)

_WS_PORT: Final = 8765
_MQTT_PORT: Final = 1883
_COMPONENTS: Final = "#/components/schemas/{model}"

# Each device topic: the leaf, its model, who publishes it, whether it is retained.
DEVICE_TOPICS: Final[tuple[tuple[str, type[BaseModel], str, bool], ...]] = (
    ("birth", devices.DeviceBirth, "device", True),
    ("status", devices.DeviceStatus, "device", True),
    ("samples", devices.SampleBatch, "device", False),
    ("events", devices.DeviceEvent, "device", False),
    ("commands", devices.DeviceCommand, "server", False),
    ("acks", devices.CommandAck, "device", False),
)


def _members(union: Any) -> list[type[BaseModel]]:
    return [model for model in get_args(union) if isinstance(model, type)]


def _type_name(model: type[BaseModel]) -> str:
    return str(model.model_fields["type"].default)


def _summary(model: type[BaseModel]) -> str:
    doc = " ".join((model.__doc__ or model.__name__).split())
    return doc.split(". ")[0].rstrip(".")


def message_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema document per file: the client's messages, the server's (each a union
    told apart by ``type``), and the device payloads."""
    device_schema: dict[str, Any] = {
        "title": "dreamcommons device payloads (msgpack maps)",
        "oneOf": [],
        "$defs": {},
    }
    _, defs = models_json_schema(
        [(model, "validation") for _, model, _, _ in DEVICE_TOPICS],
        ref_template="#/$defs/{model}",
    )
    device_schema["$defs"] = defs.get("$defs", {})
    device_schema["oneOf"] = [
        {"$ref": f"#/$defs/{model.__name__}"} for _, model, _, _ in DEVICE_TOPICS
    ]
    client = TypeAdapter(ClientMessage).json_schema(mode="validation")
    server = TypeAdapter(ServerMessage).json_schema(mode="validation")
    client["title"] = "dreamcommons client messages (WebSocket)"
    server["title"] = "dreamcommons server messages (WebSocket)"
    return {"client.json": client, "server.json": server, "devices.json": device_schema}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of a dreamcommons server: what it receives and sends on its
    WebSocket (one channel per session) and on the device broker (one channel per topic)."""
    client = _members(AnyClientMessage)
    server = _members(AnyServerMessage)
    device_models = [model for _, model, _, _ in DEVICE_TOPICS]
    everything = list(dict.fromkeys([*client, *server, *device_models]))
    _, defs = models_json_schema(
        [(model, "validation") for model in everything], ref_template=_COMPONENTS
    )
    messages: dict[str, Any] = {}
    for model in [*client, *server]:
        key = f"{'client' if model in client else 'server'}.{_type_name(model)}"
        messages[key] = {
            "name": _type_name(model),
            "title": model.__name__,
            "summary": _summary(model),
            "payload": {"$ref": _COMPONENTS.format(model=model.__name__)},
        }
    for leaf, model, _, _ in DEVICE_TOPICS:
        messages[f"device.{leaf}"] = {
            "name": leaf,
            "title": model.__name__,
            "summary": _summary(model),
            "contentType": "application/msgpack",
            "payload": {"$ref": _COMPONENTS.format(model=model.__name__)},
        }
    channels: dict[str, Any] = {
        "session": {
            "address": "/{session}",
            "title": "A dream session",
            "description": (
                "One WebSocket per participant. The subprotocol chooses the encoding: "
                f"`{Encoding.MSGPACK.value}` (binary frames) or `{Encoding.JSON.value}` "
                "(text frames), the same messages; the payloads here are the JSON form, and in "
                "msgpack a delta's motif updates are arrays of their values instead (see "
                "docs/protocol.md)."
            ),
            "servers": [{"$ref": "#/servers/websocket"}],
            "parameters": {"session": {"description": "the session's name"}},
            "messages": {
                key: {"$ref": f"#/components/messages/{key}"}
                for key in messages
                if not key.startswith("device.")
            },
        }
    }
    operations: dict[str, Any] = {
        "receiveClientMessages": _operation("receive", "session", messages, "client."),
        "sendServerMessages": _operation("send", "session", messages, "server."),
    }
    for leaf, _, publisher, retained in DEVICE_TOPICS:
        name = f"device{leaf.title()}"
        channels[name] = {
            "address": f"{devices.TOPIC_ROOT}/{{device_id}}/{leaf}",
            "description": "retained" if retained else "not retained",
            "servers": [{"$ref": "#/servers/devices"}],
            "parameters": {"device_id": {"description": "the device's id"}},
            "messages": {f"device.{leaf}": {"$ref": f"#/components/messages/device.{leaf}"}},
        }
        action = "send" if publisher == "server" else "receive"
        operations[f"{action}Device{leaf.title()}"] = _operation(
            action, name, messages, f"device.{leaf}"
        )
    messages["server.status"] = {
        "name": "status",
        "title": "ServerStatus",
        "summary": "Whether the server is there: online, and offline as its will",
        "contentType": "text/plain",
        "payload": {"type": "string", "enum": ["online", "offline"]},
    }
    channels["serverStatus"] = {
        "address": f"{devices.SERVER_ROOT}/{{server}}/status",
        "description": "retained; the server's last will sets it to offline",
        "servers": [{"$ref": "#/servers/devices"}],
        "parameters": {"server": {"description": "the server's name (host --server-name)"}},
        "messages": {"server.status": {"$ref": "#/components/messages/server.status"}},
    }
    operations["sendServerStatus"] = _operation("send", "serverStatus", messages, "server.status")
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dreamcommons",
            "version": str(PROTOCOL_VERSION),  # the wire's version, as in the subprotocols
            "description": (
                "A dreamcommons server: participants over WebSocket, sleep pods and smart "
                "fabric over MQTT. docs/protocol.md and docs/devices.md are the prose."
            ),
        },
        "servers": {
            "websocket": {"host": f"localhost:{_WS_PORT}", "protocol": "ws"},
            "devices": {"host": f"localhost:{_MQTT_PORT}", "protocol": "mqtt"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": defs.get("$defs", {}), "messages": messages},
    }


def _operation(action: str, channel: str, messages: dict[str, Any], prefix: str) -> Any:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [
            {"$ref": f"#/channels/{channel}/messages/{key}"}
            for key in messages
            if key.startswith(prefix)
        ],
    }


def published_files() -> dict[str, str]:
    """Every file's path under ``docs/`` and its text."""
    import yaml

    files = {
        f"schemas/{name}": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in message_schemas().items()
    }
    header = "# Generated by `python -m dreamcommons.contracts.schemas docs`: do not edit.\n"
    text = yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True, width=100)
    files["asyncapi.yaml"] = header + text
    return files


def main(argv: Sequence[str] = sys.argv[1:]) -> None:
    out = Path(argv[0] if argv else "docs")
    for name, text in published_files().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path)


if __name__ == "__main__":
    main()
