"""The merge engine: a pure, deterministic core that the async layers only feed and drain."""

from dreamcommons.server.engine.core import ContributionRefused, DreamEngine, EngineError, Pace
from dreamcommons.server.engine.events import (
    DevicesChanged,
    Event,
    HostCommanded,
    MotifContributed,
    ParticipantJoined,
    ParticipantLeft,
    PresenceChanged,
    ShareChanged,
    SleeperUpdated,
    Whispered,
)

__all__ = [
    "ContributionRefused",
    "DevicesChanged",
    "DreamEngine",
    "EngineError",
    "Event",
    "HostCommanded",
    "MotifContributed",
    "Pace",
    "ParticipantJoined",
    "ParticipantLeft",
    "PresenceChanged",
    "ShareChanged",
    "SleeperUpdated",
    "Whispered",
]
