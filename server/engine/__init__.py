"""The merge engine: a pure, deterministic core that the async layers only feed and drain."""

from server.engine.core import DreamEngine, EngineError
from server.engine.events import (
    Event,
    MotifContributed,
    ParticipantJoined,
    ParticipantLeft,
    PresenceChanged,
    Whispered,
)

__all__ = [
    "DreamEngine",
    "EngineError",
    "Event",
    "MotifContributed",
    "ParticipantJoined",
    "ParticipantLeft",
    "PresenceChanged",
    "Whispered",
]
