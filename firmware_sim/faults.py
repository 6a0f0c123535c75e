"""Fault switches of a simulated device: what to break (``Faults``) and the seeded logic that
breaks it (``FaultInjector``).

Every switch is off by default. The injector draws from its own ``random.Random``, seeded per
device, so a faulty run is repeatable and one device's faults never shift another's physiology.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final, Literal

import msgpack

__all__ = ["SENSOR_FIELDS", "BatchFate", "FaultInjector", "Faults"]

#: Every reading a device may send, as named in ``BioSample`` (``t`` is the clock, not a sensor).
SENSOR_FIELDS: Final = ("hr", "hrv", "resp", "phase", "eeg", "move", "temp")

BatchFate = Literal["send", "drop", "garble"]


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


@dataclass(frozen=True, slots=True)
class Faults:
    """Which faults a device injects. All off by default.

    - ``dropout``: probability that a finished batch is silently not sent (its seq is used up,
      so the receiver sees a gap).
    - ``garbage``: probability that a finished batch is replaced by bytes that are not a valid
      ``SampleBatch`` (random bytes, truncated msgpack, or a map with the wrong fields).
    - ``clock_skew_s``: added to the device's clock, so to every sample ``t``.
    - ``stuck_sensor``: a field of ``BioSample`` (``hr``, ``resp``, ``eeg``, ...) that repeats
      its first reading forever; a device without that sensor is unaffected.
    - ``stress_at``: seconds after the device's first sample at which a stress episode of
      ``stress_level`` (0..1) starts, lasting ``stress_duration_s`` real seconds.
    """

    dropout: float = 0.0
    garbage: float = 0.0
    clock_skew_s: float = 0.0
    stuck_sensor: str | None = None
    stress_at: float | None = None
    stress_level: float = 0.8
    stress_duration_s: float = 120.0

    def __post_init__(self) -> None:
        _probability("dropout", self.dropout)
        _probability("garbage", self.garbage)
        if self.dropout + self.garbage > 1.0:
            raise ValueError("dropout and garbage together must not exceed 1")
        if not math.isfinite(self.clock_skew_s):
            raise ValueError(f"clock_skew_s must be finite, got {self.clock_skew_s}")
        if self.stuck_sensor is not None and self.stuck_sensor not in SENSOR_FIELDS:
            raise ValueError(
                f"stuck_sensor must be one of {', '.join(SENSOR_FIELDS)}, got {self.stuck_sensor!r}"
            )
        if self.stress_at is not None and not (
            math.isfinite(self.stress_at) and self.stress_at >= 0.0
        ):
            raise ValueError(f"stress_at must be a non-negative number, got {self.stress_at}")
        _probability("stress_level", self.stress_level)
        if not (math.isfinite(self.stress_duration_s) and self.stress_duration_s >= 0.0):
            raise ValueError(
                f"stress_duration_s must be a non-negative number, got {self.stress_duration_s}"
            )


class FaultInjector:
    """Applies one device's ``Faults``: stamps its clock, freezes a stuck sensor, decides the
    fate of each batch, corrupts payloads and says when the stress episode is due."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(f"dreamcommons.faults:{seed}")
        self._stuck_value: object = None
        self._stress_started = False

    def device_time(self, true_time: float) -> float:
        """What the device's (possibly skewed) clock reads at Unix time ``true_time``."""
        return true_time + self.faults.clock_skew_s

    def true_time(self, device_time: float) -> float:
        """The Unix time at which the device's clock reads ``device_time``."""
        return device_time - self.faults.clock_skew_s

    def freeze(self, reading: dict[str, object]) -> dict[str, object]:
        """``reading`` with the stuck sensor (if any, and if present) at its first value."""
        name = self.faults.stuck_sensor
        if name is None or name not in reading:
            return reading
        if self._stuck_value is None:
            self._stuck_value = reading[name]
        reading[name] = self._stuck_value
        return reading

    def fate(self) -> BatchFate:
        """Whether the next finished batch is sent, silently dropped or garbled."""
        dropout, garbage = self.faults.dropout, self.faults.garbage
        if dropout == 0.0 and garbage == 0.0:
            return "send"
        draw = self._rng.random()
        if draw < dropout:
            return "drop"
        if draw < dropout + garbage:
            return "garble"
        return "send"

    def garble(self, payload: bytes) -> bytes:
        """Bytes in place of ``payload`` that no receiver can take for a valid ``SampleBatch``."""
        variant = self._rng.randrange(3)
        if variant == 0:
            size = max(2, len(payload))
            return bytes(self._rng.getrandbits(8) for _ in range(size))
        if variant == 1 and len(payload) >= 2:
            return payload[: self._rng.randrange(1, len(payload))]  # msgpack cut short
        wrong: bytes = msgpack.packb({"seq": -1, "samples": "static", "noise": self._rng.random()})
        return wrong

    def stress_due(self, elapsed_s: float) -> bool:
        """True exactly once: at the first call at or after ``stress_at`` seconds."""
        at = self.faults.stress_at
        if at is None or self._stress_started or elapsed_s < at:
            return False
        self._stress_started = True
        return True
