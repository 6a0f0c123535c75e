"""What the journal gives back: recovered sessions and members, and its own counters."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from dreamcommons.contracts.venues import VenuePreset, load_venue
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal.codec import JournalEvent

_PID = re.compile(r"p(\d+)")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def token_hash(token: str) -> str:
    """What the journal stores of a resume token: its sha256, hex. Resume tokens are random
    (``secrets.token_urlsafe(24)``, 192 bits), so an unsalted fast hash cannot be reversed;
    the server compares ``token_hash(presented)`` with the stored value."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_token_hash(value: str) -> bool:
    """Whether ``value`` looks like ``token_hash``'s output (and so not like a raw token)."""
    return _SHA256_HEX.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session the journal knows: its id and venue (name, and the preset if recorded)."""

    id: str
    venue: str
    venue_preset: VenuePreset | None = None
    host_key_hash: str | None = None

    def preset(self) -> VenuePreset:
        """The venue as recorded with the session, else the preset of that name in seeds/."""
        return self.venue_preset if self.venue_preset is not None else load_venue(self.venue)


@dataclass(frozen=True, slots=True)
class RecoveredMember:
    """A member as the journal remembers them; ``left`` once removed (their token is void).
    ``last_cid`` is the highest contribution/whisper id journaled for them (-1: none)."""

    pid: str
    name: str
    role: str
    token_hash: str
    left: bool = False
    last_cid: int = -1


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    """One session as the journal has it: the latest snapshot's engine (None: replay from the
    start), the events after it in journal order, and who belongs to it."""

    info: SessionInfo
    engine: DreamEngine | None
    snapshot_upto: int  # seq of the last event the snapshot includes; 0 without one
    events: list[JournalEvent]
    last_seq: int  # seq of the session's last journaled event (snapshot_upto if none after)
    members: list[RecoveredMember] = field(default_factory=list)
    pairings: list[tuple[str, str]] = field(default_factory=list)  # (pid, device_id)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def venue(self) -> str:
        return self.info.venue

    @property
    def highest_pid_number(self) -> int:
        """The largest ``n`` of the members' ``pn`` ids (0 without members)."""
        numbers = [int(m[1]) for m in (_PID.fullmatch(x.pid) for x in self.members) if m]
        return max(numbers, default=0)

    def next_pid_after(self) -> int:
        """The number the next participant gets (``p{n}``), so ids are never reused."""
        return self.highest_pid_number + 1


@dataclass(slots=True)
class JournalStats:
    """The journal's counters, for /metrics and the benchmark."""

    events_appended: int = 0
    events_committed: int = 0
    snapshots_committed: int = 0
    commits: int = 0
    commit_failures: int = 0
    bytes_committed: int = 0  # event payloads and snapshots written
    last_commit_s: float = 0.0
    max_commit_s: float = 0.0
    total_commit_s: float = 0.0
