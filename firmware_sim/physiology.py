"""Seeded, deterministic sleep physiology of one simulated sleeper.

A ``Sleeper`` follows its seeded hypnogram on a *night clock* that may run ``acceleration``
times faster than real time, while its body rhythms (breathing phase, heart) always run in real
time. Every value is a per-person baseline times a per-stage factor, plus seeded noise:
Ornstein-Uhlenbeck processes advanced with their exact discretisation, so any step ``dt`` is
stable. Breathing can be paced towards an external rhythm (frequency relaxation plus
Kuramoto-style phase coupling) and a stress episode can be injected; ``Sample.stress`` is the
ground truth for tests. Pure and synchronous: time comes in as ``dt``, randomness from
``random.Random`` seeded with the sleeper's seed.

Sources:

- Penzel T, Kantelhardt JW, Bartsch RP, Riedl M, Kraemer JF, Wessel N, Garcia C, Glos M,
  Fietze I, Schöbel C (2016). Modulations of heart rate, ECG, and cardio-respiratory coupling
  observed in polysomnography. Front Physiol 7:460, doi:10.3389/fphys.2016.00460. Table 1:
  heart rate, HRV and respiration rate per stage relative to REM.
- Shaffer F, Ginsberg JP (2017). An overview of heart rate variability metrics and norms.
  Front Public Health 5:258. RMSSD norms; respiratory sinus arrhythmia (RSA) as the main
  source of RMSSD.
- Berry RB et al. (2020). AASM Manual for the Scoring of Sleep and Associated Events, v2.6.
  EEG per stage: wake alpha, N1 theta, N2 spindles (sigma, 11-16 Hz), N3 slow waves, REM
  sawtooth theta with low-voltage mixed frequencies; chin atonia in REM.
- Kräuchi K (2007). The thermophysiological cascade leading to sleep initiation in relation
  to phase of entrainment. Sleep Med Rev 11(6):439-451. Distal skin temperature rises at
  lights-off and stays high through the night.
- Kuramoto Y (1984). Chemical Oscillations, Waves, and Turbulence. Springer; Strogatz SH
  (2000). From Kuramoto to Crawford. Physica D 143:1-20. Phase coupling and the order
  parameter R = |mean(exp(i phi_k))|.
- Lehrer PM, Gevirtz R (2014). Heart rate variability biofeedback: how and why does it work?
  Front Psychol 5:756. Paced breathing around 0.1 Hz.
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dreamcommons.firmware_sim.hypnogram import EPOCH_S, Stage, hypnogram

__all__ = ["Baseline", "Sample", "Sleeper", "Stage", "baseline_for", "hypnogram", "order_parameter"]


# Per-stage factors relative to REM, indexed by Stage (W, N1, N2, N3, REM). Penzel et al. 2016,
# Table 1, where "light" is N1 and N2 and "deep" is N3.
_HR_FACTOR: Final = (1.06, 0.98, 0.98, 0.99, 1.00)
_HRV_FACTOR: Final = (1.15, 0.97, 0.97, 0.93, 1.00)
_RESP_FACTOR: Final = (1.02, 0.95, 0.95, 0.92, 1.00)
# Breath-to-breath irregularity per stage: high in wake and REM, most regular in N3.
_RESP_IRREGULARITY: Final = (1.5, 1.2, 0.8, 0.6, 1.5)
# Relative EEG band power (delta, theta, alpha, beta) per stage. N2 spindle (sigma) power is
# folded into beta; REM is the "sawtooth" theta with low-voltage beta.
_EEG_PROFILE: Final = (
    (0.10, 0.15, 0.45, 0.30),
    (0.20, 0.45, 0.15, 0.20),
    (0.38, 0.34, 0.08, 0.20),
    (0.72, 0.16, 0.05, 0.07),
    (0.22, 0.38, 0.12, 0.28),
)
_EEG_BY_BAND: Final = tuple(tuple(profile[k] for profile in _EEG_PROFILE) for k in range(4))
# Typical movement level per stage (actigraphy-like, 0..1): near zero in REM atonia.
_MOVEMENT: Final = (0.35, 0.08, 0.04, 0.02, 0.005)

# Stage-driven values follow the hypnogram with this time constant of *night* time.
_STAGE_TAU_S: Final = 8.0
# Ornstein-Uhlenbeck noise: (standard deviation, time constant in real seconds).
_HR_NOISE: Final = (1.2, 1.5)  # bpm
_HRV_NOISE: Final = (0.06, 4.0)  # log-units of RMSSD, a windowed estimate
_RESP_NOISE: Final = (0.03, 5.0)  # relative breathing frequency, scaled by irregularity
_EEG_NOISE: Final = (0.15, 2.0)  # log-units of band power
_MOVEMENT_NOISE: Final = (0.6, 3.0)  # log-units
_TEMP_NOISE: Final = (0.05, 60.0)  # °C
_PHASE_DIFFUSION: Final = 0.25  # rad per sqrt(s)
# RSA amplitude per ms of RMSSD: a +/-3 bpm sinusoid at ~4 beats per breath gives an RMSSD of
# ~45 ms at 60 bpm.
_RSA_BPM_PER_MS: Final = 0.065
# Stress at level 1: +30 % heart rate, -50 % RMSSD, reached with a time constant of 5 s.
_STRESS_HR: Final = 0.30
_STRESS_HRV: Final = 0.50
_STRESS_TAU_S: Final = 5.0
# Pacing: engagement rises to 1 with a time constant of 20 s; the breathing frequency moves 85 %
# of the way to the pacing frequency; the phase coupling is K = 1.2 rad/s times the person's
# compliance (0.7-1). Engagement gates both, so R barely moves in the first seconds; a pace at
# 0.1 Hz from ~0.24 Hz locks once K·e exceeds the remaining frequency gap, after ~15-30 s.
_PACE_TAU_S: Final = 20.0
_PACE_FREQUENCY_PULL: Final = 0.85
_PACE_COUPLING: Final = 1.2
_PACE_RANGE_HZ: Final = (0.05, 0.5)
# Skin temperature: a saturating rise over the night (rate 3 per night), lower when awake.
_TEMP_RISE_RATE: Final = 3.0
_TEMP_WAKE_DROP: Final = 0.15

# Hard bounds, documented on Sample.
_HR_RANGE: Final = (30.0, 220.0)
_HRV_RANGE: Final = (5.0, 250.0)
_TEMP_RANGE: Final = (30.0, 38.0)


@dataclass(frozen=True, slots=True)
class Baseline:
    """One person's values in REM sleep, against which the stage factors apply."""

    heart_rate: float  # bpm, 55-70
    hrv_rmssd: float  # ms, 30-60
    respiration_hz: float  # 0.22-0.26 Hz (13-16 breaths/min)
    skin_temp: float  # °C at lights-off, 33.5-34.5
    skin_temp_rise: float  # °C gained over the night, 0.3-0.8
    pacing_compliance: float  # 0.7-1, scales how strongly breathing locks to a pace


def baseline_for(seed: int) -> Baseline:
    """A plausible healthy adult, drawn from ``seed``; RMSSD is lower for higher heart rates."""
    rng = random.Random(f"dreamcommons.baseline:{seed}")
    heart_rate = rng.uniform(55.0, 70.0)
    hrv = 60.0 - 1.5 * (heart_rate - 55.0) + rng.gauss(0.0, 6.0)
    return Baseline(
        heart_rate=heart_rate,
        hrv_rmssd=min(60.0, max(30.0, hrv)),
        respiration_hz=rng.uniform(0.22, 0.26),
        skin_temp=rng.uniform(33.5, 34.5),
        skin_temp_rise=rng.uniform(0.3, 0.8),
        pacing_compliance=rng.uniform(0.7, 1.0),
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """What the sensors of one sleeper read at one instant.

    Ranges: heart_rate 30-220 bpm; hrv_rmssd 5-250 ms; respiration_rate 3-40 breaths/min (any
    allowed pacing included); breath_phase in [0, 2π), 0 at the start of inspiration; the EEG
    bands in [0, 1] summing to 1; movement and stress in [0, 1]; skin_temp 30-38 °C.
    """

    t: float  # seconds of night time
    stage: Stage
    heart_rate: float
    hrv_rmssd: float
    respiration_rate: float
    breath_phase: float
    eeg_delta: float
    eeg_theta: float
    eeg_alpha: float
    eeg_beta: float
    movement: float
    skin_temp: float
    stress: float


def order_parameter(phases: Sequence[float]) -> float:
    """Kuramoto order parameter R = |mean(exp(iφ))|: 1 for identical phases, ~0 for spread ones."""
    if not phases:
        raise ValueError("order_parameter needs at least one phase")
    c = sum(math.cos(p) for p in phases)
    s = sum(math.sin(p) for p in phases)
    return min(1.0, math.hypot(c, s) / len(phases))


def _mix(weights: Sequence[float], table: Sequence[float]) -> float:
    """The weighted sum, added in order (a fleet of a thousand devices mixes tens of
    thousands a second: ``map`` costs half of a generator, for the same figure)."""
    mixed: float = sum(map(operator.mul, weights, table))
    return mixed


def _clamp(x: float, bounds: tuple[float, float]) -> float:
    return min(bounds[1], max(bounds[0], x))


def _wrap(phase: float) -> float:
    """``phase`` in [0, 2π); ``%`` alone can return 2π for tiny negative inputs."""
    wrapped = phase % math.tau
    return 0.0 if wrapped >= math.tau else wrapped


def _relax(x: float, target: float, dt: float, tau: float) -> float:
    return target + (x - target) * math.exp(-dt / tau)


class Sleeper:
    """One simulated person, advanced in real-time steps by ``advance(dt)``.

    The night clock starts at ``start_minute`` and runs ``acceleration`` times faster than the
    real-time clock, which starts at ``real_time_start`` so that several sleepers can share it.
    After ``night_minutes`` the sleeper stays awake. ``breath_phase`` sets where the first
    breath starts (drawn from the seed when not given). Same seed and same calls, same samples.
    """

    def __init__(
        self,
        seed: int,
        *,
        acceleration: float = 1.0,
        night_minutes: float = 480.0,
        start_minute: float = 0.0,
        real_time_start: float = 0.0,
        breath_phase: float | None = None,
    ) -> None:
        if not (math.isfinite(acceleration) and acceleration > 0.0):
            raise ValueError(f"acceleration must be positive, got {acceleration}")
        self._stages = hypnogram(seed, night_minutes)
        if not 0.0 <= start_minute <= night_minutes:
            raise ValueError(f"start_minute must be in [0, night_minutes], got {start_minute}")
        if not math.isfinite(real_time_start):
            raise ValueError(f"real_time_start must be finite, got {real_time_start}")
        self._baseline = baseline_for(seed)
        self._acceleration = acceleration
        self._rng = random.Random(f"dreamcommons.sleeper:{seed}")
        rng = self._rng
        self._real_time = real_time_start
        self._night_time = start_minute * 60.0
        self._night_s = night_minutes * 60.0
        stage = self._stage_at(self._night_time)
        self._weights = [1.0 if s == stage else 0.0 for s in Stage]
        drawn_phase = rng.uniform(0.0, math.tau)  # drawn either way: the same later draws
        self._phase = drawn_phase if breath_phase is None else _wrap(breath_phase)
        # Unit-variance noise states, started from their stationary distribution.
        self._hr_noise = rng.gauss(0.0, 1.0)
        self._hrv_noise = rng.gauss(0.0, 1.0)
        self._resp_noise = rng.gauss(0.0, 1.0)
        self._eeg_noise = [rng.gauss(0.0, 1.0) for _ in range(4)]
        self._movement_noise = rng.gauss(0.0, 1.0)
        self._temp_noise = rng.gauss(0.0, 1.0)
        self._stress = 0.0
        self._stress_level = 0.0
        self._stress_until = real_time_start
        self._engagement = 0.0
        self._pace_hz: float | None = None
        self._pace_reference = 0.0
        self._last_pace_hz = self._baseline.respiration_hz

    @property
    def baseline(self) -> Baseline:
        return self._baseline

    @property
    def real_time(self) -> float:
        """Seconds on the sleeper's real-time clock (``real_time_start`` plus all ``dt``)."""
        return self._real_time

    @property
    def night_time(self) -> float:
        """Seconds on the night clock since lights-off."""
        return self._night_time

    def pace(self, frequency_hz: float | None, reference_time: float = 0.0) -> None:
        """Start pacing breathing towards phase 2π·f·(real_time - reference_time), or stop."""
        if frequency_hz is not None and not (
            _PACE_RANGE_HZ[0] <= frequency_hz <= _PACE_RANGE_HZ[1]
        ):
            raise ValueError(f"pacing frequency must be in {_PACE_RANGE_HZ} Hz, got {frequency_hz}")
        if not math.isfinite(reference_time):
            raise ValueError(f"reference_time must be finite, got {reference_time}")
        self._pace_hz = frequency_hz
        self._pace_reference = reference_time
        if frequency_hz is not None:
            self._last_pace_hz = frequency_hz

    def stress_episode(self, level: float, duration_s: float) -> None:
        """For the next ``duration_s`` real seconds, drive stress towards ``level`` (0..1)."""
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"stress level must be in [0, 1], got {level}")
        if not (math.isfinite(duration_s) and duration_s >= 0.0):
            raise ValueError(f"duration_s must be a non-negative number, got {duration_s}")
        self._stress_level = level
        self._stress_until = self._real_time + duration_s

    def advance(self, dt: float) -> Sample:
        """Move both clocks forward by ``dt`` real seconds and return the sample at the new time."""
        if not (math.isfinite(dt) and dt >= 0.0):
            raise ValueError(f"dt must be a non-negative number, got {dt}")
        start = self._real_time
        self._real_time = start + dt
        self._night_time += dt * self._acceleration
        stage = self._stage_at(self._night_time)
        decay = math.exp(-dt * self._acceleration / _STAGE_TAU_S)
        self._weights = [
            (1.0 if s == stage else 0.0) * (1.0 - decay) + w * decay
            for s, w in zip(Stage, self._weights, strict=True)
        ]
        self._step_drivers(start, dt)
        self._step_noise(dt)
        frequency = self._breathe(dt)
        return self._sample(stage, frequency)

    def _stage_at(self, night_time: float) -> Stage:
        epoch = int(night_time // EPOCH_S)
        return self._stages[epoch] if epoch < len(self._stages) else Stage.WAKE

    def _step_drivers(self, start: float, dt: float) -> None:
        """Stress (exact even if the episode ends mid-step) and pacing engagement."""
        in_episode = min(dt, max(0.0, self._stress_until - start))
        stress = _relax(self._stress, self._stress_level, in_episode, _STRESS_TAU_S)
        self._stress = _relax(stress, 0.0, dt - in_episode, _STRESS_TAU_S)
        target = 0.0 if self._pace_hz is None else 1.0
        self._engagement = _relax(self._engagement, target, dt, _PACE_TAU_S)

    def _ou(self, x: float, dt: float, tau: float) -> float:
        a = math.exp(-dt / tau)
        return a * x + math.sqrt(1.0 - a * a) * self._rng.gauss(0.0, 1.0)

    def _step_noise(self, dt: float) -> None:
        self._hr_noise = self._ou(self._hr_noise, dt, _HR_NOISE[1])
        self._hrv_noise = self._ou(self._hrv_noise, dt, _HRV_NOISE[1])
        self._resp_noise = self._ou(self._resp_noise, dt, _RESP_NOISE[1])
        self._eeg_noise = [self._ou(x, dt, _EEG_NOISE[1]) for x in self._eeg_noise]
        self._movement_noise = self._ou(self._movement_noise, dt, _MOVEMENT_NOISE[1])
        self._temp_noise = self._ou(self._temp_noise, dt, _TEMP_NOISE[1])

    def _breathe(self, dt: float) -> float:
        """Advance the breathing phase; return the instantaneous breathing frequency in Hz."""
        weights = self._weights
        own = self._baseline.respiration_hz * _mix(weights, _RESP_FACTOR)
        pull = _PACE_FREQUENCY_PULL * self._engagement
        irregularity = _RESP_NOISE[0] * _mix(weights, _RESP_IRREGULARITY)
        wobble = min(1.3, max(0.7, 1.0 + irregularity * self._resp_noise))
        frequency = ((1.0 - pull) * own + pull * self._last_pace_hz) * wobble
        phase = (
            self._phase
            + math.tau * frequency * dt
            + _PHASE_DIFFUSION * math.sqrt(dt) * self._rng.gauss(0.0, 1.0)
        )
        if self._pace_hz is not None:
            # Kuramoto pull dψ/dt = -K·sin ψ on ψ = φ - φ_pace, solved exactly over the step
            # (tan(ψ/2) decays as exp(-K t)), so large steps cannot overshoot.
            cycles = self._pace_hz * (self._real_time - self._pace_reference)
            pace_phase = math.tau * (cycles - math.floor(cycles))
            psi = math.remainder(phase - pace_phase, math.tau)
            coupling = _PACE_COUPLING * self._baseline.pacing_compliance * self._engagement * dt
            phase = pace_phase + 2.0 * math.atan(math.tan(psi / 2.0) * math.exp(-coupling))
        self._phase = _wrap(phase)
        return frequency

    def _sample(self, stage: Stage, frequency: float) -> Sample:
        b = self._baseline
        w = self._weights
        hrv = (
            b.hrv_rmssd
            * _mix(w, _HRV_FACTOR)
            * (1.0 - _STRESS_HRV * self._stress)
            * math.exp(_HRV_NOISE[0] * self._hrv_noise)
        )
        heart_rate = (
            b.heart_rate * _mix(w, _HR_FACTOR) * (1.0 + _STRESS_HR * self._stress)
            + _RSA_BPM_PER_MS * hrv * math.sin(self._phase)
            + _HR_NOISE[0] * self._hr_noise
        )
        bands = [
            _mix(w, by_stage) * math.exp(_EEG_NOISE[0] * noise)
            for by_stage, noise in zip(_EEG_BY_BAND, self._eeg_noise, strict=True)
        ]
        total = sum(bands)
        delta, theta, alpha, beta = (band / total for band in bands)
        movement = _mix(w, _MOVEMENT) * math.exp(_MOVEMENT_NOISE[0] * self._movement_noise)
        progress = min(1.0, self._night_time / self._night_s)
        warming = (1.0 - math.exp(-_TEMP_RISE_RATE * progress)) / (1.0 - math.exp(-_TEMP_RISE_RATE))
        skin_temp = (
            b.skin_temp
            + b.skin_temp_rise * warming
            - _TEMP_WAKE_DROP * w[Stage.WAKE]
            + _TEMP_NOISE[0] * self._temp_noise
        )
        return Sample(
            t=self._night_time,
            stage=stage,
            heart_rate=_clamp(heart_rate, _HR_RANGE),
            hrv_rmssd=_clamp(hrv, _HRV_RANGE),
            respiration_rate=frequency * 60.0,
            breath_phase=self._phase,
            eeg_delta=delta,
            eeg_theta=theta,
            eeg_alpha=alpha,
            eeg_beta=beta,
            movement=min(1.0, movement),
            skin_temp=_clamp(skin_temp, _TEMP_RANGE),
            stress=_clamp(self._stress, (0.0, 1.0)),
        )
