"""The events the merge engine consumes, in the order the session feeds them.

Plain frozen dataclasses: the engine trusts them (the edge has validated the wire models);
the journal stores them; a replay feeds the same list to a new engine and gets the same states.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamcommons.contracts.protocol import Role


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    participant: str
    name: str
    role: Role
    tag: int | None = None  # tells apart members of the same name (ParticipantView.tag)


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A participant's connection dropped (``present=False``) or came back with its token."""

    participant: str
    present: bool


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    """Gone from the session; what they contributed fades out with the usual decay."""

    participant: str


@dataclass(frozen=True, slots=True)
class MotifContributed:
    participant: str
    cid: int
    motif: str
    intensity: float
    valence: float
    arousal: float
    private: bool = False


@dataclass(frozen=True, slots=True)
class Whispered:
    participant: str
    cid: int
    text: str


@dataclass(frozen=True, slots=True)
class SleeperUpdated:
    """What the devices say of a sleeper: stage (0 W, 1 N1, 2 N2, 3 N3, 4 REM, or None when
    unknown), stress against their own baseline (0..1), breathing phase and rate at ``t``."""

    participant: str
    stage: int | None
    stress: float
    breath_phase: float | None
    breath_hz: float | None
    t: float


@dataclass(frozen=True, slots=True)
class DevicesChanged:
    """How many of the participant's paired devices are online now."""

    participant: str
    online: int


@dataclass(frozen=True, slots=True)
class ShareChanged:
    """How much of the participant's dream others see, 0..1; applies to what came before."""

    participant: str
    level: float | None  # None: unchanged
    show_stage: bool | None = None  # whether others see the sleeper's stage; None: unchanged


@dataclass(frozen=True, slots=True)
class HostCommanded:
    """The host steers: start, pause, resume, advance, end, harmonize."""

    action: str


Event = (
    ParticipantJoined
    | PresenceChanged
    | ParticipantLeft
    | MotifContributed
    | Whispered
    | SleeperUpdated
    | DevicesChanged
    | ShareChanged
    | HostCommanded
)
