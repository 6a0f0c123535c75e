"""What pods, fabric and sessions show Home Assistant, without a broker: every discovery
message follows HA's documented schema (``tests/ha_schema.py``) and every state carries what
the templates read; a session's state is its aggregate and nothing else."""

from __future__ import annotations

import json

import pytest

from dreamcommons.contracts.device_protocol import DeviceKind
from dreamcommons.contracts.home_assistant import device_config_topic, session_config_topic
from dreamcommons.contracts.protocol import DreamscapeState, ParticipantView, SceneView
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.engine.people import count_people
from dreamcommons.server.ha_sessions import SessionsInHomeAssistant, session_state
from dreamcommons.server.session import DreamSession
from tests.ha_schema import check_state, discovery_entities


@pytest.mark.parametrize("kind", ["pod", "fabric"])
async def test_a_device_shows_its_readings_and_levels(kind: DeviceKind) -> None:
    config = DeviceConfig.generate(kind, 4, device_id=f"{kind}-shown")
    device = SimulatedDevice(config, "mqtt://127.0.0.1:1", ha_discovery=True)
    link = device.home_assistant
    assert link is not None
    assert link.state() is None  # nothing to show before the first reading
    device.tick(1_000_000.0)
    device.actuators[next(iter(device.actuators))] = 0.25
    entities = discovery_entities(device_config_topic(config.device_id), link.discovery())
    state = json.loads(link.state() or b"{}")
    for entity in entities:
        check_state(entity, state)
    assert set(state) == {entity.key for entity in entities}
    assert list(state.values()).count(25) == 1  # the level set, in percent


def test_a_session_shows_its_aggregates_and_nobody_s_data() -> None:
    sleeper = ParticipantView(id="p1", name="Lyra", role="dreamer", stage="deep")
    watcher = ParticipantView(id="p2", name="Eye", role="watcher")
    away = ParticipantView(id="p3", name="Zara", role="waker", present=False)
    scene = SceneView(phase="dream", coherence=0.41237, sleepers=1, fractured=True)
    people = (sleeper, watcher, away)
    state = DreamscapeState(
        session="commons",
        venue="sleep-commons",
        scene=scene,
        participants=people,
        people=count_people({p.id: p for p in people}),  # as the engine counts them
    )
    assert session_state(state) == {
        "participants": 1,
        "sleepers": 1,
        "phase": "dream",
        "coherence": 0.412,
        "fractured": "ON",
        "harmonizing": "OFF",
    }
    quiet = DreamscapeState(session="commons", venue="sleep-commons")
    assert session_state(quiet)["coherence"] is None


def test_a_session_s_discovery_follows_the_schema() -> None:
    session = DreamSession("commons", load_venue("sleep-commons"))
    sessions = SessionsInHomeAssistant("house", lambda: [session], forget_on_stop=True)
    entities = discovery_entities(
        session_config_topic("house", "commons"), sessions.discovery(session)
    )
    state = session_state(session.engine.state)
    for entity in entities:
        check_state(entity, state)
    assert {entity.key for entity in entities} == set(state)
