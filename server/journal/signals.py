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

_LAST: Final = frozenset({"phase"})  # instantaneous: the second's last value, not a mean
_EEG: Final = ("eeg_delta", "eeg_theta", "eeg_alpha", "eeg_beta")

INSERT_SIGNALS: Final = (
    "INSERT OR REPLACE INTO signals (session, participant, t, wall, readings)"
    " VALUES (?, ?, ?, ?, ?)"
)


def readings_of(sample: BioSample) -> dict[str, float]:
    """A sample's readings, by key, in the units of ``READINGS``."""
    values: dict[str, float] = {}
    for key in ("hr", "hrv", "resp", "phase", "temp"):
        value = getattr(sample, key)
        if value is not None:
            values[key] = float(value)
    if sample.move is not None:
        values["move"] = 100.0 * sample.move
    if sample.eeg is not None:
        for key, power in zip(_EEG, sample.eeg, strict=True):
            values[key] = 100.0 * power
    return values


@dataclass(frozen=True, slots=True)
class SignalSecond:
    """One sleeper's readings over one second of session time starting at ``t``."""

    t: float
    wall: float
    readings: dict[str, float]


class SecondAverage:
    """Readings of one second as they arrive; ``value()`` is the second's row."""

    __slots__ = ("_last", "_sums", "t", "wall")

    def __init__(self, t: float, wall: float) -> None:
        self.t = t
        self.wall = wall
        self._sums: dict[str, tuple[float, int]] = {}
        self._last: dict[str, float] = {}

    def add(self, readings: dict[str, float]) -> None:
        for key, value in readings.items():
            if key in _LAST:
                self._last[key] = value
            else:
                total, count = self._sums.get(key, (0.0, 0))
                self._sums[key] = (total + value, count + 1)

    def has_readings(self) -> bool:
        return bool(self._sums or self._last)

    def value(self) -> SignalSecond:
        means = {key: total / count for key, (total, count) in self._sums.items()}
        return SignalSecond(self.t, self.wall, {**means, **self._last})


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
