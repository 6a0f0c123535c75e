"""The merge engine: a pure, deterministic core that the async layers only feed and drain."""

from server.engine.core import DreamEngine, EngineError
from server.engine.events import (
    DevicesChanged,
    Event,
    MotifContributed,
    ParticipantJoined,
    ParticipantLeft,
    PresenceChanged,
    SleeperUpdated,
    Whispered,
)

__all__ = [
    "DevicesChanged",
    "DreamEngine",
    "EngineError",
    "Event",
    "MotifContributed",
    "ParticipantJoined",
    "ParticipantLeft",
    "PresenceChanged",
    "SleeperUpdated",
    "Whispered",
]
