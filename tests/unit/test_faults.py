"""The fault switches of simulated devices: validation, seeded batch fates, garbage, clocks."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.device_protocol import (
    BioSample,
    ProtocolError,
    SampleBatch,
    pack,
    unpack,
)
from dreamcommons.firmware_sim.faults import FaultInjector, Faults


def real_payload(samples: int = 5) -> bytes:
    sample = BioSample(t=1.7e9, hr=60.0, resp=14.0, phase=1.0, move=0.1)
    return pack(SampleBatch(seq=7, bd_seq=0, samples=(sample,) * samples))


@pytest.mark.parametrize(
    "settings",
    [
        {"dropout": -0.1},
        {"garbage": 1.5},
        {"dropout": 0.6, "garbage": 0.6},
        {"clock_skew_s": float("nan")},
        {"stuck_sensor": "t"},
        {"stuck_sensor": "pulse"},
        {"stress_at": -1.0},
        {"stress_level": 2.0},
        {"stress_duration_s": float("inf")},
    ],
)
def test_impossible_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        Faults(**settings)  # type: ignore[arg-type]


def test_without_faults_every_batch_is_sent_and_time_is_true() -> None:
    injector = FaultInjector(Faults(), seed=1)
    assert {injector.fate() for _ in range(1000)} == {"send"}
    assert injector.device_time(1000.0) == 1000.0
    assert injector.freeze({"hr": 61.0}) == {"hr": 61.0}
    assert not injector.stress_due(1e9)


def test_fates_follow_the_probabilities_and_the_seed() -> None:
    faults = Faults(dropout=0.2, garbage=0.1)
    draws = FaultInjector(faults, seed=3)
    fates = [draws.fate() for _ in range(5000)]
    assert 0.17 < fates.count("drop") / 5000 < 0.23
    assert 0.08 < fates.count("garble") / 5000 < 0.12
    again = FaultInjector(faults, seed=3)
    assert [again.fate() for _ in range(5000)] == fates
    other = FaultInjector(faults, seed=4)
    assert [other.fate() for _ in range(5000)] != fates


@pytest.mark.parametrize("samples", [1, 5, 64])
def test_garbage_never_passes_for_a_sample_batch(samples: int) -> None:
    payload = real_payload(samples)
    assert unpack(payload, SampleBatch).seq == 7
    injector = FaultInjector(Faults(garbage=1.0), seed=samples)
    garbled = [injector.garble(payload) for _ in range(300)]
    for junk in garbled:
        assert junk
        with pytest.raises(ProtocolError):
            unpack(junk, SampleBatch)
    assert len(set(garbled)) > 200  # not the same few bytes over and over


def test_clock_skew_shifts_the_device_clock_both_ways() -> None:
    injector = FaultInjector(Faults(clock_skew_s=-90.0), seed=0)
    assert injector.device_time(1000.0) == 910.0
    assert injector.true_time(injector.device_time(1234.5)) == 1234.5


def test_a_stuck_sensor_repeats_its_first_reading_and_leaves_the_others_alone() -> None:
    injector = FaultInjector(Faults(stuck_sensor="eeg"), seed=0)
    first = injector.freeze({"hr": 60.0, "eeg": (0.1, 0.2, 0.3, 0.4)})
    later = injector.freeze({"hr": 70.0, "eeg": (0.4, 0.3, 0.2, 0.1)})
    assert first["eeg"] == later["eeg"] == (0.1, 0.2, 0.3, 0.4)
    assert later["hr"] == 70.0
    assert injector.freeze({"temp": 34.0}) == {"temp": 34.0}  # a fabric has no EEG to stick


def test_the_stress_episode_starts_once_when_due() -> None:
    injector = FaultInjector(Faults(stress_at=30.0), seed=0)
    assert [injector.stress_due(t) for t in (0.0, 29.9, 30.2, 31.0, 500.0)] == [
        False,
        False,
        True,
        False,
        False,
    ]
