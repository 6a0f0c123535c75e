"""What the bridge makes of a wearable's raw signals: pure functions over numpy arrays.

Each function takes the most recent window of one stream (samples in rows, channels in
columns where there are several) and its sampling rate, and returns the reading in the units of
``BioSample``, or None when the window cannot say (too short, flat, out of range). Nothing here
knows of LSL, MQTT or the clock.

- EEG band power: Welch's method per channel (2-s segments, half overlapping), averaged over
  the channels, integrated over delta 0.5-4 Hz, theta 4-8, alpha 8-13 and beta 13-30, and given
  relative to their sum.
- Heart: beats found as peaks of the band-passed ECG or PPG, at least 0.3 s apart; heart rate
  from the median beat interval, HRV as the RMSSD of the intervals.
- Breathing: the band-passed respiration (or chest-stretch) signal's dominant frequency, then a
  least-squares sinusoid at that frequency over the last two breaths gives the phase at the
  window's end, 0 where the stretch is smallest (inspiration starts) and rising through it.
- Movement: the spread of the acceleration's magnitude, 0 for still and 1 from 0.2 g.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import signal

Samples = NDArray[np.float64]

BANDS: Final = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0))  # delta theta alpha beta
EEG_SEGMENT_S: Final = 2.0
HEART_BAND_HZ: Final = (0.7, 20.0)
MIN_BEAT_GAP_S: Final = 0.3  # 200 beats/min
BREATH_BAND_HZ: Final = (0.08, 1.0)  # 5 to 60 breaths/min
MIN_BREATHS: Final = 2.0  # a window shorter than two breaths says nothing of the rate
MOVEMENT_FULL_G: Final = 0.2


@dataclass(frozen=True, slots=True)
class Heart:
    rate: float  # beats per minute
    rmssd: float | None  # ms; None with fewer than three intervals


@dataclass(frozen=True, slots=True)
class Breathing:
    rate: float  # breaths per minute
    phase: float  # radians, 0..2π, 0 at the start of inspiration


def _columns(samples: Samples) -> Samples:
    data = np.asarray(samples, dtype=np.float64)
    return data[:, np.newaxis] if data.ndim == 1 else data


def band_powers(eeg: Samples, fs: float) -> tuple[float, float, float, float] | None:
    """Relative delta, theta, alpha and beta power of ``eeg`` (samples x channels), or None
    for a window shorter than one Welch segment, non-finite or without power in the bands."""
    data = _columns(eeg)
    segment = int(EEG_SEGMENT_S * fs)
    if data.size == 0 or len(data) < segment or not np.all(np.isfinite(data)):
        return None
    freqs, psd = signal.welch(data, fs=fs, nperseg=segment, axis=0)
    mean_psd = psd.mean(axis=1)
    powers = []
    for low, high in BANDS:
        inside = (freqs >= low) & (freqs < high)
        powers.append(float(np.trapezoid(mean_psd[inside], freqs[inside])))
    total = sum(powers)
    if not total > 0.0:
        return None
    delta, theta, alpha, beta = (p / total for p in powers)
    return delta, theta, alpha, beta


def _band_pass(x: Samples, fs: float, low: float, high: float) -> Samples:
    high = min(high, 0.45 * fs)
    sos = signal.butter(2, (low, high), btype="bandpass", fs=fs, output="sos")
    filtered: Samples = signal.sosfiltfilt(sos, x, axis=0)
    return filtered


def beat_times(pulse: Samples, fs: float) -> Samples:
    """Seconds (from the window's start) of the heart beats in an ECG or PPG window. With
    several channels (a PPG's wavelengths) the one with the strongest pulse is used."""
    data = _columns(pulse)
    if data.size == 0 or len(data) < int(2 * fs) or not np.all(np.isfinite(data)):
        return np.empty(0)
    filtered = _band_pass(data, fs, *HEART_BAND_HZ)
    strongest = filtered[:, int(np.argmax(filtered.std(axis=0)))]
    spread = float(strongest.std())
    if spread == 0.0:
        return np.empty(0)
    peaks, _ = signal.find_peaks(
        strongest, distance=max(1, int(MIN_BEAT_GAP_S * fs)), prominence=spread
    )
    times: Samples = peaks / fs
    return times


def heart(pulse: Samples, fs: float) -> Heart | None:
    """Heart rate (and HRV when there are enough beats) of an ECG or PPG window."""
    intervals = np.diff(beat_times(pulse, fs))
    if len(intervals) < 2:
        return None
    rate = 60.0 / float(np.median(intervals))
    if not 20.0 <= rate <= 250.0:
        return None
    rmssd = None
    if len(intervals) >= 3:
        rmssd = min(500.0, 1000.0 * float(np.sqrt(np.mean(np.diff(intervals) ** 2))))
    return Heart(rate=rate, rmssd=rmssd)


def heart_rate_value(values: Samples) -> float | None:
    """The latest value of a heart-rate stream (beats per minute), if it is a plausible one."""
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.size == 0:
        return None
    latest = float(data[-1])
    return latest if 20.0 <= latest <= 250.0 else None


def breathing(resp: Samples, fs: float, age_s: float = 0.0) -> Breathing | None:
    """Breathing rate and phase of a respiration or chest-stretch window (its first channel);
    the phase ``age_s`` seconds after the window's last sample (streams come in chunks)."""
    data = _columns(resp)
    if data.size == 0:
        return None
    x = data[:, 0]
    if len(x) < int(fs / BREATH_BAND_HZ[0]) or not np.all(np.isfinite(x)):
        return None
    filtered = _band_pass(x, fs, *BREATH_BAND_HZ)
    freqs, psd = signal.welch(filtered, fs=fs, nperseg=len(filtered), window="hann")
    inside = (freqs >= BREATH_BAND_HZ[0]) & (freqs <= BREATH_BAND_HZ[1])
    if not np.any(psd[inside] > 0.0):
        return None
    peak = int(np.argmax(np.where(inside, psd, 0.0)))
    hz = _refine_peak(freqs, psd, peak)
    if len(x) / fs < MIN_BREATHS / hz:
        return None
    # Over the last two breaths: x ≈ a·cos(ωt) + b·sin(ωt) + c, t = 0 at the window's end, so
    # x ≈ A·cos(ωt + θ) with θ = atan2(-b, a); the stretch is smallest at θ = π.
    last = min(len(x), int(2 * fs / hz))
    t = (np.arange(last) - (last - 1)) / fs
    omega = 2 * np.pi * hz
    design = np.column_stack((np.cos(omega * t), np.sin(omega * t), np.ones(last)))
    (a, b, _), *_ = np.linalg.lstsq(design, x[-last:], rcond=None)
    theta = float(np.arctan2(-b, a)) + omega * max(0.0, age_s)
    phase = float((theta - np.pi) % (2 * np.pi))
    return Breathing(rate=60.0 * hz, phase=phase)


def _refine_peak(freqs: Samples, psd: Samples, peak: int) -> float:
    """The spectral peak's frequency between bins (a parabola through the peak's neighbours)."""
    if 0 < peak < len(psd) - 1:
        left, centre, right = np.log(psd[peak - 1 : peak + 2] + 1e-300)
        curvature = left - 2 * centre + right
        if curvature < 0:
            offset = 0.5 * (left - right) / curvature
            return float(freqs[peak] + offset * (freqs[1] - freqs[0]))
    return float(freqs[peak])


def movement(acceleration: Samples) -> float | None:
    """Movement 0..1 from an accelerometer window (samples x axes, in g)."""
    data = _columns(acceleration)
    if data.size == 0 or len(data) < 2 or not np.all(np.isfinite(data)):
        return None
    magnitude = np.linalg.norm(data, axis=1)
    return float(min(1.0, magnitude.std() / MOVEMENT_FULL_G))
