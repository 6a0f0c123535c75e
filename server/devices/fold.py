"""What a session does with its sleepers' devices, wherever their batches come from: each
paired sleeper's batches folded into their estimate and their signals, told to their session
through its public methods only. The single process's ``DeviceHub`` and a cluster's session
owner (fed by the ingest processes) both fold batches here."""

from __future__ import annotations

import time

from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.server.devices.signals import SignalRecorder
from dreamcommons.server.devices.sleepers import SleeperEstimates, as_event
from dreamcommons.server.engine import Pace
from dreamcommons.server.session import DreamSession


class SleeperFold:
    """Every paired sleeper's estimate and signals, by owner (``"session/pid"``)."""

    def __init__(self) -> None:
        self.sleepers = SleeperEstimates()
        self.signals = SignalRecorder()

    def fold(self, session: DreamSession, owner: str, batch: SampleBatch, arrived: float) -> None:
        """Fold a paired device's batch (``arrived``: ``time.monotonic()``) into its sleeper's
        estimate; their session hears it when it moved enough to matter."""
        pid = owner.split("/", 1)[1]
        if session.member(pid) is None:
            return  # removed from the session: nobody to estimate for
        estimate = self.sleepers.add(owner, batch, arrived)
        t = session.clock(arrived)
        if estimate is not None:
            session.sleeper_updated(as_event(pid, estimate, t))
        if session.keeps_signals:
            wall = time.time() - (time.monotonic() - arrived)  # ``arrived`` is monotonic
            for second in self.signals.add(owner, batch, t, wall):
                session.signals_recorded(pid, second)


def pace_reference(session: DreamSession, intent: Pace) -> float:
    """One instant for all, the pacing's start, so that paced sleepers breathe in together,
    those who join it later included: the wall-clock time of the intent's session time."""
    late = max(0.0, session.clock(time.monotonic()) - intent.t)
    return time.time() - late
