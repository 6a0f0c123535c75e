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
from dreamcommons.server.engine.snapshot import (
    SnapshotError,
    SnapshotVersionError,
    engine_from_snapshot,
    engine_to_snapshot,
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
    "SnapshotError",
    "SnapshotVersionError",
    "Whispered",
    "engine_from_snapshot",
    "engine_to_snapshot",
]
