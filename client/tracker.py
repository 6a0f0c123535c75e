"""Sequence tracking: apply deltas in order, notice gaps, and accept snapshots that heal them.

Pure logic, separate from the socket, so that every ordering case is tested without a server.
"""

from __future__ import annotations

from enum import Enum, auto

from dreamcommons.contracts.protocol import Delta, DreamscapeState


class DeltaOutcome(Enum):
    APPLIED = auto()
    STALE = auto()  # already covered by the state we hold
    GAP = auto()  # a delta is missing: ask for a snapshot
    WAITING = auto()  # a snapshot is on its way; deltas wait for it


class StateTracker:
    def __init__(self, state: DreamscapeState) -> None:
        self.state = state
        self.awaiting_snapshot = False
        self.gaps = 0

    def on_delta(self, delta: Delta) -> DeltaOutcome:
        if self.awaiting_snapshot:
            return DeltaOutcome.WAITING
        if delta.seq <= self.state.seq:
            return DeltaOutcome.STALE
        if delta.seq != self.state.seq + 1:
            self.awaiting_snapshot = True
            self.gaps += 1
            return DeltaOutcome.GAP
        self.state = self.state.apply(delta)
        return DeltaOutcome.APPLIED

    def resumed(self) -> None:
        """A new connection resumes from the state held: the deltas after it follow, and a
        snapshot asked for on the old connection will not come."""
        self.awaiting_snapshot = False

    def on_snapshot(self, state: DreamscapeState) -> bool:
        """Take the snapshot unless it is older than what we hold; True when taken."""
        self.awaiting_snapshot = False
        if state.seq < self.state.seq:
            return False
        self.state = state
        return True
