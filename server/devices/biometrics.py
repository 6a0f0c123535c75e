"""What the server makes of a sleeper's stream: sleep stage, stress against their own
baseline, and breathing rhythm. Pure: samples and their arrival times in, an estimate out.

Stage is the nearest centroid of smoothed EEG band power (pods), or movement and breathing
(fabric only). The centroids follow the AASM scoring rules' picture of each stage: alpha in
wake, theta in N1, theta and delta with spindles in N2, slow-wave delta in N3, sawtooth theta
with low-voltage beta in REM (Berry et al., AASM Manual v2.6, 2020).

Breathing rate is the speed at which the breathing phase advances between the samples of a
batch (on the device's own clock), not the reported respiration rate: the phase is what the
coherence rule carries forward, so its own speed is what carries it right.

Stress compares heart rate (up) and HRV (down) with the sleeper's own slow baseline, which
only learns while the sleeper is calm, so a long stress episode is not absorbed into it.

A reading a sample names ``stale`` (its sensor stalled) is forgotten until it comes back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import IntEnum

from dreamcommons.contracts.device_protocol import BioSample


class SleepStage(IntEnum):
    """Hypnogram codes, as in common tools: 0 W, 1 N1, 2 N2, 3 N3, 4 REM."""

    WAKE = 0
    N1 = 1
    N2 = 2
    N3 = 3
    REM = 4


# (delta, theta, alpha, beta) relative band power per stage.
_EEG_CENTROIDS: dict[SleepStage, tuple[float, float, float, float]] = {
    SleepStage.WAKE: (0.10, 0.15, 0.45, 0.30),
    SleepStage.N1: (0.20, 0.45, 0.15, 0.20),
    SleepStage.N2: (0.38, 0.34, 0.08, 0.20),
    SleepStage.N3: (0.72, 0.16, 0.05, 0.07),
    SleepStage.REM: (0.22, 0.38, 0.12, 0.28),
}
_SMOOTHING_S = 2.0  # features: an exponential average over about two seconds of samples
_BASELINE_S = 60.0  # the sleeper's own baseline adapts over about a minute of calm
_RATE_SPAN_S = 3.0  # breathing rate: an exponential average over about three seconds
_RATE_GAP_S = 1.0  # consecutive samples further apart than this say nothing about the rate
_AWAKE_MOVEMENT = 0.15
_CALM = 0.3


@dataclass(frozen=True, slots=True)
class SleeperEstimate:
    stage: SleepStage | None
    stress: float  # 0 calm .. 1 highly stressed, against the sleeper's own baseline
    breath_phase: float | None  # radians at ``at``
    breath_hz: float | None
    at: float  # the arrival time the estimate refers to (server clock, seconds)


class _Average:
    """An exponential moving average over time, started by its first value."""

    __slots__ = ("span", "value")

    def __init__(self, span: float) -> None:
        self.span = span
        self.value: float | None = None

    def update(self, x: float, dt: float) -> float:
        if self.value is None:
            self.value = x
        else:
            alpha = 1.0 - math.exp(-dt / self.span) if dt > 0 else 0.0
            self.value += alpha * (x - self.value)
        return self.value


class SleeperEstimator:
    """One participant's estimate, from the samples of all their devices."""

    def __init__(self) -> None:
        self._eeg = [_Average(_SMOOTHING_S) for _ in range(4)]
        self._move = _Average(_SMOOTHING_S)
        self._hr = _Average(_SMOOTHING_S)
        self._hrv = _Average(_SMOOTHING_S)
        self._resp = _Average(_SMOOTHING_S)
        self._hr_base = _Average(_BASELINE_S)
        self._hrv_base = _Average(_BASELINE_S)
        self._resp_base = _Average(_BASELINE_S)
        self._phase: float | None = None
        self._rate = _Average(_RATE_SPAN_S)
        self._last_t: float | None = None
        self._stress = 0.0
        self.samples = 0

    def add(self, samples: tuple[BioSample, ...], arrived: float) -> SleeperEstimate:
        """Take a batch that arrived at ``arrived``; its last sample is taken as 'now'."""
        last_device_t = samples[-1].t
        self._measure_rate(samples)
        for sample in samples:
            # Device clocks may be skewed: trust only differences within a batch.
            t = arrived - (last_device_t - sample.t)
            dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
            self._last_t = max(t, self._last_t or t)
            self._take(sample, dt)
        self.samples += len(samples)
        return self.estimate(arrived)

    def _measure_rate(self, samples: tuple[BioSample, ...]) -> None:
        """Fold the phase advance between consecutive samples of one batch into the rate."""
        for before, after in itertools.pairwise(samples):
            dt = after.t - before.t
            if before.phase is None or after.phase is None or not 0.0 < dt <= _RATE_GAP_S:
                continue
            advance = math.remainder(after.phase - before.phase, math.tau)
            self._rate.update(advance / math.tau / dt, dt)

    def _take(self, s: BioSample, dt: float) -> None:
        for name in s.stale or ():
            self._forget(name)
        if s.eeg is not None:
            for average, power in zip(self._eeg, s.eeg, strict=True):
                average.update(power, dt)
        if s.move is not None:
            self._move.update(s.move, dt)
        if s.resp is not None:
            self._resp.update(s.resp, dt)
        if s.phase is not None:
            self._phase = s.phase
        if s.hr is not None:
            self._hr.update(s.hr, dt)
        if s.hrv is not None:
            self._hrv.update(s.hrv, dt)
        self._stress = self._stress_now()
        if self._stress < _CALM:
            for base, value in (
                (self._hr_base, s.hr),
                (self._hrv_base, s.hrv),
                (self._resp_base, s.resp),
            ):
                if value is not None:
                    base.update(value, dt)

    def _forget(self, reading: str) -> None:
        """A stale reading no longer counts: its average starts again when it comes back."""
        if reading == "eeg":
            for average in self._eeg:
                average.value = None
        elif reading == "phase":
            self._phase = None
            self._rate.value = None
        else:
            averages = {"move": self._move, "hr": self._hr, "hrv": self._hrv, "resp": self._resp}
            if reading in averages:
                averages[reading].value = None

    def _stress_now(self) -> float:
        parts: list[float] = []
        hr, hr_base = self._hr.value, self._hr_base.value
        if hr is not None and hr_base:
            parts.append(max(0.0, hr / hr_base - 1.0) / 0.25)
        hrv, hrv_base = self._hrv.value, self._hrv_base.value
        if hrv is not None and hrv_base:
            parts.append(max(0.0, 1.0 - hrv / hrv_base) / 0.5)
        if not parts:  # fabric only: breathing faster than usual
            resp, resp_base = self._resp.value, self._resp_base.value
            if resp is not None and resp_base:
                parts.append(max(0.0, resp / resp_base - 1.0) / 0.3)
        return min(1.0, sum(parts) / len(parts)) if parts else 0.0

    def stage(self) -> SleepStage | None:
        move = self._move.value
        if move is not None and move > _AWAKE_MOVEMENT:
            return SleepStage.WAKE
        powers = [average.value for average in self._eeg if average.value is not None]
        if len(powers) < len(self._eeg):
            # Fabric alone cannot tell the sleep stages apart: still means asleep.
            return None if move is None else SleepStage.N2

        def distance(stage: SleepStage) -> float:
            centroid = _EEG_CENTROIDS[stage]
            return sum((p - c) ** 2 for p, c in zip(powers, centroid, strict=True))

        return min(_EEG_CENTROIDS, key=distance)

    def estimate(self, at: float) -> SleeperEstimate:
        resp, rate = self._resp.value, self._rate.value
        if rate is None and resp is not None:
            rate = resp / 60.0
        elif rate is not None:
            rate = max(0.0, rate)
        return SleeperEstimate(
            stage=self.stage(),
            stress=round(self._stress, 3),
            breath_phase=self._phase,
            breath_hz=rate,
            at=at,
        )
