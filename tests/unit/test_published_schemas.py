"""The wire's published descriptions (docs/schemas/*.json, docs/asyncapi.yaml) are the models'
own: they match what the generator makes of today's models, and real frames validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import msgpack
import pytest
import yaml
from pydantic import BaseModel

from dreamcommons.contracts import device_protocol as devices
from dreamcommons.contracts.protocol import Encoding, Join, People, Since, Welcome, encode
from dreamcommons.contracts.schemas import DEVICE_TOPICS, published_files
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, events

DOCS = Path(__file__).resolve().parents[2] / "docs"
PUBLISHED = published_files()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_committed_file_is_what_the_models_make(name: str) -> None:
    committed = (DOCS / name).read_text() if (DOCS / name).exists() else ""
    assert committed == PUBLISHED[name], (
        f"docs/{name} has drifted from the models: "
        "run `python -m dreamcommons.contracts.schemas docs` and commit the result"
    )


def schema(name: str) -> Any:
    return json.loads(PUBLISHED[f"schemas/{name}"])


def real_frames() -> list[Any]:
    """A welcome and the deltas of a busy few ticks, as a JSON client receives them."""
    engine = DreamEngine(load_venue("sleep-commons"), "commons")
    engine.apply(events.ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
    engine.apply(events.ParticipantJoined(participant="p2", name="Kai", role="host"))
    frames: list[BaseModel] = [
        Welcome(participant="p1", resume="r" * 32, tick_hz=10, state=engine.state)
    ]
    for tick in range(1, 6):
        engine.apply(events.MotifContributed("p1", tick, "forest", 0.8, 0.2, 0.5))
        engine.apply(events.Whispered("p1", 100 + tick, "the moss is warm"))
        frames.append(engine.tick(tick * 0.1)[1])
    frames.append(
        Welcome(participant="p2", resume="s" * 32, tick_hz=10, state=engine.state, join_code="x")
    )
    frames.append(Welcome(participant="p1", resume="r" * 32, tick_hz=10, resumed_from=3))
    return [json.loads(encode(frame, Encoding.JSON)) for frame in frames]


def test_what_the_server_sends_validates_against_its_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema("server.json"))
    for frame in real_frames():
        validator.validate(frame)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"type": "delta", "seq": "one", "t": 0.0})


def test_the_client_schema_holds_the_limits_the_server_enforces() -> None:
    validator = jsonschema.Draft202012Validator(schema("client.json"))
    validator.validate(json.loads(encode(Join(session="commons", name="Lyra"), Encoding.JSON)))
    validator.validate(json.loads(encode(People(cid=1, offset=10), Encoding.JSON)))
    since = Since(epoch="x3Kd9wQmN2pLr7Vt", seq=4120)
    validator.validate(
        json.loads(encode(Join(session="commons", name="Lyra", since=since), Encoding.JSON))
    )
    for bad in (
        {"type": "join", "session": "commons", "name": "Lyra", "since": {"epoch": "", "seq": 1}},
        {"type": "join", "session": "commons", "name": "Lyra", "since": {"epoch": "e", "seq": -1}},
        {"type": "people", "cid": 1, "limit": 0},
        {"type": "join", "session": "Not A Session", "name": "Lyra"},
        {"type": "contribute", "cid": 1, "motif": "forest", "intensity": 2.0},
        {"type": "teleport"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_device_payloads_validate_against_the_device_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema("devices.json"))
    command = devices.DeviceCommand(id=7 * 10**11, action="light", value=0.5)
    validator.validate(msgpack.unpackb(devices.pack(command)))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"id": 1, "action": "teleport"})


def test_the_asyncapi_document_names_every_message_and_topic() -> None:
    document = yaml.safe_load(PUBLISHED["asyncapi.yaml"])
    assert document["asyncapi"] == "3.0.0"
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert {"join", "contribute", "welcome", "delta", "people", "status"} <= names
    addresses = {c["address"] for c in document["channels"].values()}
    assert {f"{devices.TOPIC_ROOT}/{{device_id}}/{leaf}" for leaf, *_ in DEVICE_TOPICS} <= addresses
    refs = json.dumps(document)
    for ref in set(_refs(document)):
        assert _resolve(document, ref) is not None, ref
    assert "#/$defs/" not in refs  # every schema is in components


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: Any, ref: str) -> Any:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node
