"""Each paired sleeper's signals, kept at 1 Hz as that sleeper's own data.

One row of ``signals`` per sleeper and second of session time: every reading their devices
sent in that second, averaged (the breathing phase: the last one, as an average of angles
would be no phase at all). ``wall`` is the wall-clock time (Unix seconds, UTC) of the
second's start, so that an export can say when the night was recorded. The rows are exported
with the sleeper's other data, on their resume token, and erased with it; the session never
reads them and nobody else is shown them.

``READINGS`` names every reading, with what an EDF+ file says of it: label, physical unit and
physical range (the device protocol's own bounds, ``BioSample``).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import msgpack

from dreamcommons.contracts.device_protocol import BioSample


@dataclass(frozen=True, slots=True)
class Reading:
    """One kind of reading: its key in a row, its EDF label, unit and physical range."""

    key: str
    label: str
    unit: str
    low: float
    high: float


READINGS: Final = (
    Reading("hr", "Heart rate", "bpm", 20.0, 250.0),
    Reading("hrv", "HRV RMSSD", "ms", 0.0, 500.0),
    Reading("resp", "Resp rate", "/min", 0.0, 60.0),
    Reading("phase", "Breath phase", "rad", 0.0, 2 * math.pi),
    Reading("eeg_delta", "EEG delta", "%", 0.0, 100.0),
    Reading("eeg_theta", "EEG theta", "%", 0.0, 100.0),
    Reading("eeg_alpha", "EEG alpha", "%", 0.0, 100.0),
    Reading("eeg_beta", "EEG beta", "%", 0.0, 100.0),
    Reading("move", "Movement", "%", 0.0, 100.0),
    Reading("temp", "Skin temp", "degC", 20.0, 45.0),
)
"""Every reading, in the order an export lists them. EEG band powers and movement are in
percent (the devices send fractions)."""

INSERT_SIGNALS: Final = (
    "INSERT OR REPLACE INTO signals (session, participant, t, wall, readings)"
    " VALUES (?, ?, ?, ?, ?)"
)
_HR, _HRV, _RESP, _PHASE, _DELTA, _THETA, _ALPHA, _BETA, _MOVE, _TEMP = range(len(READINGS))


@dataclass(frozen=True, slots=True)
class SignalSecond:
    """One sleeper's readings over one second of session time starting at ``t``."""

    t: float
    wall: float
    readings: dict[str, float]


class SecondAverage:
    """Samples of one second as they arrive; ``value()`` is the second's row. Called for
    every sample of every paired device: plain sums by position, no dictionaries."""

    __slots__ = ("_counts", "_phase", "_sums", "t", "wall")

    def __init__(self, t: float, wall: float) -> None:
        self.t = t
        self.wall = wall
        self._sums = [0.0] * len(READINGS)
        self._counts = [0] * len(READINGS)
        self._phase: float | None = None  # instantaneous: the last, as a mean of angles is none

    def add(self, sample: BioSample) -> None:
        sums, counts = self._sums, self._counts
        if (hr := sample.hr) is not None:
            sums[_HR] += hr
            counts[_HR] += 1
        if (hrv := sample.hrv) is not None:
            sums[_HRV] += hrv
            counts[_HRV] += 1
        if (resp := sample.resp) is not None:
            sums[_RESP] += resp
            counts[_RESP] += 1
        if (move := sample.move) is not None:
            sums[_MOVE] += 100.0 * move
            counts[_MOVE] += 1
        if (temp := sample.temp) is not None:
            sums[_TEMP] += temp
            counts[_TEMP] += 1
        if (eeg := sample.eeg) is not None:
            delta, theta, alpha, beta = eeg
            sums[_DELTA] += 100.0 * delta
            sums[_THETA] += 100.0 * theta
            sums[_ALPHA] += 100.0 * alpha
            sums[_BETA] += 100.0 * beta
            for i in (_DELTA, _THETA, _ALPHA, _BETA):
                counts[i] += 1
        if sample.phase is not None:
            self._phase = sample.phase

    def has_readings(self) -> bool:
        return self._phase is not None or any(self._counts)

    def value(self) -> SignalSecond:
        readings = {
            reading.key: total / count
            for reading, total, count in zip(READINGS, self._sums, self._counts, strict=True)
            if count
        }
        if self._phase is not None:
            readings["phase"] = self._phase
        return SignalSecond(self.t, self.wall, readings)


def encode_readings(readings: dict[str, float]) -> bytes:
    packed: bytes = msgpack.packb({k: round(v, 4) for k, v in sorted(readings.items())})
    return packed


def read_signals(
    conn: sqlite3.Connection, session: str, participant: str
) -> Iterator[SignalSecond]:
    """One sleeper's seconds in time order; none from a journal written before signals."""
    try:
        rows = conn.execute(
            "SELECT t, wall, readings FROM signals WHERE session = ? AND participant = ?"
            " ORDER BY t",
            (session, participant),
        )
    except sqlite3.OperationalError:  # schema 2 and older: no signals table
        return
    for t, wall, blob in rows:
        readings = msgpack.unpackb(blob)
        if isinstance(readings, dict):
            yield SignalSecond(
                float(t),
                float(wall),
                {str(k): float(v) for k, v in readings.items() if isinstance(v, int | float)},
            )


def signal_owners(conn: sqlite3.Connection, session: str | None) -> list[tuple[str, str]]:
    """(session, participant) of every sleeper with signals (of one session, or all)."""
    try:
        if session is None:
            rows = conn.execute("SELECT DISTINCT session, participant FROM signals").fetchall()
        else:
            rows = conn.execute(
                "SELECT DISTINCT session, participant FROM signals WHERE session = ?", (session,)
            ).fetchall()
    except sqlite3.OperationalError:
        return []
    return sorted((str(s), str(p)) for s, p in rows)
