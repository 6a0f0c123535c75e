"""Each paired sleeper's signals at 1 Hz, for their journal: their devices' samples in, one
``SignalSecond`` out per second of session time that had readings, once the next second
begins. Pure bookkeeping: session and wall-clock times of arrival come in as arguments.
"""

from __future__ import annotations

import math

from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.server.journal.signals import SecondAverage, SignalSecond


class SignalRecorder:
    """One second in progress per owner (``"session/pid"``), fed by all of their devices."""

    def __init__(self) -> None:
        self._open: dict[str, SecondAverage] = {}

    def add(self, owner: str, batch: SampleBatch, t: float, wall: float) -> list[SignalSecond]:
        """Fold a batch that arrived at session time ``t`` (wall-clock ``wall``) into the
        owner's seconds; the seconds it completed, in order. A sample's time is its arrival
        less how much earlier the device took it than the batch's last sample."""
        done: list[SignalSecond] = []
        last_device_t = batch.samples[-1].t
        for sample in batch.samples:
            ago = max(0.0, last_device_t - sample.t)
            at = t - ago
            second = float(math.floor(at))
            current = self._open.get(owner)
            if current is None or second > current.t:
                if current is not None and current.has_readings():
                    done.append(current.value())
                current = self._open[owner] = SecondAverage(second, wall - ago - (at - second))
            elif second < current.t:
                continue  # late for a second already written: dropped
            current.add(sample)
        return done

    def forget(self, owner: str) -> None:
        self._open.pop(owner, None)
