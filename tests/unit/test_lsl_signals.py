"""The bridge's signal processing on synthetic signals of known properties, without LSL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.device_protocol import BioSample
from dreamcommons.lsl_bridge import signals
from dreamcommons.lsl_bridge.readings import Role, Window, reading, sensors, window_length

EEG_HZ = 256.0
RESP_HZ = 25.0
ECG_HZ = 250.0


def seconds(duration: float, fs: float) -> np.ndarray:
    return np.arange(int(duration * fs)) / fs


def eeg_with_peak(hz: float, *, duration: float = 4.0, seed: int = 1) -> np.ndarray:
    """Four channels: a 20 µV sine at ``hz`` over white noise of 5 µV."""
    rng = np.random.default_rng(seed)
    t = seconds(duration, EEG_HZ)
    return np.column_stack(
        [20 * np.sin(2 * np.pi * hz * t + k) + 5 * rng.standard_normal(t.size) for k in range(4)]
    )


def pulse_train(bpm: float, duration: float = 10.0, fs: float = ECG_HZ) -> np.ndarray:
    """An ECG-like train: one narrow spike per beat over a little noise."""
    t = seconds(duration, fs)
    period = 60.0 / bpm
    noise = 0.02 * np.random.default_rng(3).standard_normal(t.size)
    return np.exp(-(((t % period) - period / 2) ** 2) / (2 * 0.01**2)) + noise


def breathing_phase_at(t: float, hz: float, offset: float) -> float:
    """The protocol's phase of sin(2π·hz·t + offset): 0 at its trough, rising after it."""
    return (2 * np.pi * hz * t + offset + np.pi / 2) % (2 * np.pi)


@pytest.mark.parametrize(("hz", "band"), [(2.0, 0), (6.0, 1), (10.0, 2), (20.0, 3)])
def test_a_peak_in_the_eeg_is_its_band(hz: float, band: int) -> None:
    powers = signals.band_powers(eeg_with_peak(hz), EEG_HZ)
    assert powers is not None
    assert max(range(4), key=lambda i: powers[i]) == band
    assert powers[band] > 0.7
    assert sum(powers) == pytest.approx(1.0)


def test_band_powers_need_a_full_segment_of_finite_eeg() -> None:
    assert signals.band_powers(eeg_with_peak(10.0, duration=1.0), EEG_HZ) is None
    broken = eeg_with_peak(10.0)
    broken[5, 1] = np.nan
    assert signals.band_powers(broken, EEG_HZ) is None
    assert signals.band_powers(np.zeros((1024, 4)), EEG_HZ) is None


@settings(max_examples=25, deadline=None)
@given(st.floats(1.0, 28.0), st.integers(0, 2**16))
def test_band_powers_are_relative(hz: float, seed: int) -> None:
    powers = signals.band_powers(eeg_with_peak(hz, seed=seed), EEG_HZ)
    assert powers is not None
    assert all(0.0 <= p <= 1.0 for p in powers)
    assert sum(powers) == pytest.approx(1.0)


@pytest.mark.parametrize("bpm", [48.0, 60.0, 75.0, 120.0])
def test_the_heart_rate_of_a_pulse_train(bpm: float) -> None:
    beat = signals.heart(pulse_train(bpm), ECG_HZ)
    assert beat is not None
    assert beat.rate == pytest.approx(bpm, abs=1.0)
    assert beat.rmssd is not None
    assert beat.rmssd < 20.0  # a perfectly regular train


def test_hrv_is_the_rmssd_of_the_beat_intervals() -> None:
    beats = np.array([0.5, 1.5, 2.4, 3.4, 4.3, 5.3, 6.2, 7.2])  # 1.0 and 0.9 s in turn
    t = seconds(8.0, ECG_HZ)
    ecg = sum(np.exp(-((t - b) ** 2) / (2 * 0.01**2)) for b in beats)
    beat = signals.heart(ecg, ECG_HZ)
    assert beat is not None
    assert beat.rmssd == pytest.approx(100.0, abs=10.0)
    assert beat.rate == pytest.approx(60 / 0.95, abs=3.5)


def test_a_ppg_is_read_on_its_strongest_channel() -> None:
    fs = 64.0
    t = seconds(10.0, fs)
    rng = np.random.default_rng(5)
    pulse = np.sin(np.pi * 1.2 * t) ** 8  # a sharp hump every 1/1.2 s: 72 beats/min
    ppg = np.column_stack(
        [0.01 * rng.standard_normal(t.size), 100 + 5 * pulse, 0.01 * rng.standard_normal(t.size)]
    )
    beat = signals.heart(ppg, fs)
    assert beat is not None
    assert beat.rate == pytest.approx(72.0, abs=2.0)


def test_no_heart_rate_from_too_little_or_nothing() -> None:
    assert signals.heart(pulse_train(60.0, duration=1.5), ECG_HZ) is None
    assert signals.heart(np.zeros(2500), ECG_HZ) is None
    assert signals.heart(pulse_train(15.0, duration=30.0), ECG_HZ) is None  # 15 bpm: not a heart
    assert signals.heart(np.full(2500, np.inf), ECG_HZ) is None
    two_beats = pulse_train(60.0, duration=2.9)
    assert signals.heart(two_beats, ECG_HZ) is not None
    assert signals.heart(two_beats, ECG_HZ).rmssd is None  # type: ignore[union-attr]


def test_a_heart_rate_stream_gives_its_latest_plausible_value() -> None:
    assert signals.heart_rate_value(np.array([[61.0], [63.0]])) == 63.0
    assert signals.heart_rate_value(np.array([[61.0], [0.0]])) is None
    assert signals.heart_rate_value(np.empty((0, 1))) is None


@pytest.mark.parametrize("offset", [0.0, 1.0, 2.5, 4.0])
@pytest.mark.parametrize("hz", [0.2, 0.25, 0.4])
def test_breathing_rate_and_phase_of_a_sine(hz: float, offset: float) -> None:
    t = seconds(30.0, RESP_HZ)
    noise = 0.05 * np.random.default_rng(7).standard_normal(t.size)
    breath = signals.breathing(np.sin(2 * np.pi * hz * t + offset) + noise, RESP_HZ)
    assert breath is not None
    assert breath.rate == pytest.approx(60 * hz, abs=0.5)
    expected = breathing_phase_at(t[-1], hz, offset)
    assert abs(math.remainder(breath.phase - expected, 2 * math.pi)) < 0.3
    assert 0.0 <= breath.phase < 2 * math.pi


def test_the_phase_is_zero_as_inspiration_starts() -> None:
    t = seconds(24.0, RESP_HZ)  # ends at a trough of -cos: the stretch is smallest
    breath = signals.breathing(-np.cos(2 * np.pi * 0.25 * (t - t[-1])), RESP_HZ)
    assert breath is not None
    assert abs(math.remainder(breath.phase, 2 * math.pi)) < 0.2


def test_no_breathing_from_too_short_or_flat_a_window() -> None:
    t = seconds(5.0, RESP_HZ)
    assert signals.breathing(np.sin(2 * np.pi * 0.25 * t), RESP_HZ) is None
    assert signals.breathing(np.zeros(750), RESP_HZ) is None
    assert signals.breathing(np.full(750, np.nan), RESP_HZ) is None
    slow = np.sin(2 * np.pi * 0.1 * seconds(15.0, RESP_HZ))  # one and a half breaths
    assert signals.breathing(slow, RESP_HZ) is None


def test_movement_is_the_spread_of_the_acceleration() -> None:
    rng = np.random.default_rng(9)
    still = np.column_stack([np.zeros(104), np.zeros(104), 1 + 0.002 * rng.standard_normal(104)])
    moving = still + np.column_stack([0.5 * np.sin(np.arange(104) / 3.0)] * 3)
    assert signals.movement(still) == pytest.approx(0.0, abs=0.05)
    assert signals.movement(moving) == 1.0
    assert signals.movement(np.ones((1, 3))) is None


def test_a_reading_carries_what_its_windows_give_and_names_the_stale() -> None:
    rng = np.random.default_rng(11)
    windows = [
        Window("eeg", EEG_HZ, eeg_with_peak(10.0)),
        Window("heart", ECG_HZ, pulse_train(60.0), heart_source="ecg"),
        Window("respiration", RESP_HZ, np.sin(2 * np.pi * 0.25 * seconds(30.0, RESP_HZ))),
        Window("motion", 52.0, 1 + 0.001 * rng.standard_normal((104, 3))),
    ]
    fields = reading(12.5, windows, stale=())
    sample = BioSample.model_validate(fields)
    assert sample.t == 12.5
    assert sample.eeg is not None
    assert sample.eeg[2] > 0.7
    assert sample.hr == pytest.approx(60.0, abs=1.0)
    assert sample.hrv is not None
    assert sample.resp == pytest.approx(15.0, abs=0.5)
    assert sample.phase is not None
    assert sample.move is not None
    assert sample.stale is None

    stalled = BioSample.model_validate(reading(13.0, windows, stale=("heart",)))
    assert (stalled.hr, stalled.hrv, stalled.stale) == (None, None, ("hr", "hrv"))
    assert stalled.eeg == sample.eeg


def test_a_missing_stream_is_simply_not_reported() -> None:
    only_eeg = [Window("eeg", EEG_HZ, eeg_with_peak(10.0))]
    sample = BioSample.model_validate(reading(1.0, only_eeg, stale=()))
    assert sample.eeg is not None
    assert (sample.hr, sample.resp, sample.move, sample.stale) == (None, None, None, None)
    assert sensors({"eeg": 1, "motion": 1}) == ("eeg", "move")


def test_a_heart_rate_stream_fills_the_rate_alone() -> None:
    window = Window("heart", 0.0, np.array([[58.0], [59.0]]), heart_source="rate")
    sample = BioSample.model_validate(reading(1.0, [window], stale=()))
    assert (sample.hr, sample.hrv) == (59.0, None)
    assert reading(1.0, [Window("eeg", EEG_HZ, np.empty((0, 4)))], stale=()) == {"t": 1.0}


def test_windows_hold_their_role_s_seconds() -> None:
    assert window_length("eeg", 256.0) == 1024
    assert window_length("respiration", 25.0) == 750
    assert window_length("heart", 0.0) == 16  # an irregular stream: its last values


@pytest.mark.parametrize("role", ["eeg", "heart", "respiration", "motion"])
def test_a_window_before_any_sample_gives_nothing(role: Role) -> None:
    empty = np.empty((0, 0))
    assert reading(2.0, [Window(role, 50.0, empty, heart_source="ecg")], stale=()) == {"t": 2.0}


def test_the_phase_is_carried_to_the_moment_of_the_reading() -> None:
    t = seconds(30.0, RESP_HZ)
    x = np.sin(2 * np.pi * 0.25 * t)
    now = signals.breathing(x, RESP_HZ)
    later = signals.breathing(x, RESP_HZ, age_s=1.0)  # a quarter breath after the last sample
    assert now is not None
    assert later is not None
    assert math.remainder(later.phase - now.phase, 2 * math.pi) == pytest.approx(
        np.pi / 2, abs=0.05
    )
