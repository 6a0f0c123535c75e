"""The server's estimates from a sleeper's stream, checked against the physiology model's truth."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from dreamcommons.contracts.device_protocol import (
    BioSample,
    DeviceBirth,
    DeviceStatus,
    PairingOffer,
    SampleBatch,
)
from dreamcommons.firmware_sim.device import reading_fields
from dreamcommons.firmware_sim.physiology import Sample, Sleeper
from dreamcommons.server.devices.biometrics import SleeperEstimate, SleeperEstimator, SleepStage
from dreamcommons.server.devices.registry import DeviceRegistry, PairingRefused


def pod_reading(s: Sample, skew: float = 0.0) -> BioSample:
    return BioSample.model_validate(reading_fields("pod", s, s.t + skew))


def stream(
    sleeper: Sleeper, seconds: float, estimator: SleeperEstimator, *, skew: float = 0.0
) -> Iterator[tuple[Sample, SleeperEstimate]]:
    """Feed 5-Hz samples in 1-s batches; yields (truth, estimate) per batch."""
    for _ in range(int(seconds)):
        batch = [sleeper.advance(0.2) for _ in range(5)]
        clock = sleeper.real_time
        readings = tuple(
            pod_reading(s, skew).model_copy(update={"t": clock - 0.2 * (4 - i) + skew})
            for i, s in enumerate(batch)
        )
        yield batch[-1], estimator.add(readings, arrived=clock)


def test_stage_estimates_agree_with_the_truth_most_of_the_night() -> None:
    sleeper = Sleeper(3, acceleration=60.0)
    estimator = SleeperEstimator()
    pairs = list(stream(sleeper, 480, estimator))[10:]
    agree = sum(
        1 for truth, est in pairs if est.stage is not None and int(est.stage) == int(truth.stage)
    )
    assert agree / len(pairs) > 0.6
    seen = {est.stage for _, est in pairs}
    assert {SleepStage.WAKE, SleepStage.N2, SleepStage.N3, SleepStage.REM} <= seen


def test_stress_rises_against_the_sleepers_own_baseline_and_falls_again() -> None:
    sleeper = Sleeper(5, acceleration=1.0, start_minute=120.0)
    estimator = SleeperEstimator()
    calm = [est.stress for _, est in stream(sleeper, 90, estimator)]
    assert max(calm[30:]) < 0.3
    sleeper.stress_episode(0.8, 40.0)
    stressed = [est.stress for _, est in stream(sleeper, 30, estimator)]
    assert max(stressed) > 0.6
    after = [est.stress for _, est in stream(sleeper, 90, estimator)]
    assert after[-1] < 0.3


def test_breathing_rhythm_is_reported_and_clock_skew_is_ignored() -> None:
    estimates = [
        list(stream(Sleeper(8), 20, SleeperEstimator(), skew=skew))[-1][1] for skew in (0.0, 3600.0)
    ]
    assert estimates[0].stage == estimates[1].stage
    assert estimates[0].stress == estimates[1].stress
    assert estimates[0].breath_hz is not None
    assert estimates[0].breath_hz == pytest.approx(estimates[1].breath_hz)
    assert 0.12 < estimates[0].breath_hz < 0.4
    assert estimates[0].breath_phase is not None


# --- the registry ---------------------------------------------------------------------------


@functools.cache
def offer(code: str, salt: str = "00" * 16, session: str | None = None) -> PairingOffer:
    return PairingOffer.of(code, salt, session)


def birth(
    code: str | None = "ABCD234567",
    bd_seq: int = 0,
    *,
    salt: str = "00" * 16,
    session: str | None = None,
) -> DeviceBirth:
    return DeviceBirth(
        kind="pod",
        model="Chrono-Cocoon",
        firmware="1.0",
        bd_seq=bd_seq,
        sample_hz=5.0,
        sensors=("hr",),
        actions=("pace",),
        pairing=None if code is None else offer(code, salt, session),
    )


def batch(seq: int, n: int = 5, bd_seq: int = 0) -> SampleBatch:
    return SampleBatch(seq=seq, bd_seq=bd_seq, samples=tuple(BioSample(t=i) for i in range(n)))


def test_losses_are_counted_from_sequence_gaps_and_wraparound() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth())
    for seq in (2**32 - 2, 2**32 - 1, 0, 3, 4, 3):
        registry.on_batch("pod-1", batch(seq))
    record = registry.devices["pod-1"]
    assert record.lost == 2 * 5
    assert record.messages == 5
    assert registry.on_batch("pod-9", batch(0)) is None
    assert registry.rejected_unknown == 1


def test_a_will_from_an_old_connection_does_not_mark_a_new_one_lost() -> None:
    registry = DeviceRegistry()
    registry.broker_up()
    registry.on_birth("pod-1", birth(bd_seq=1))
    registry.on_birth("pod-1", birth(bd_seq=2))
    registry.on_status("pod-1", DeviceStatus(state="lost", bd_seq=1))
    assert registry.devices["pod-1"].online
    registry.on_status("pod-1", DeviceStatus(state="lost", bd_seq=2))
    assert not registry.devices["pod-1"].online
    assert registry.online_count() == 0


def test_a_pairing_code_works_once_and_for_one_owner() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth("K7QMXHD2PQ"))
    assert registry.pair("K7QMXHD2PQ", "s/p1").device_id == "pod-1"
    assert registry.devices["pod-1"].birth.pairing is None
    with pytest.raises(PairingRefused):
        registry.pair("K7QMXHD2PQ", "s/p2")
    registry.on_birth("pod-1", birth("K7QMXHD2PQ", bd_seq=1))  # re-announced after a restart
    with pytest.raises(PairingRefused):
        registry.pair("K7QMXHD2PQ", "s/p2")  # the same offer: spent
    assert [d.device_id for d in registry.owned_by("s/p1")] == ["pod-1"]
    with pytest.raises(PairingRefused):
        registry.pair("K7QMXHD2PR", "s/p1")


def test_a_reset_device_goes_to_whoever_pairs_it_next() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth("K7QMXHD2PQ"))
    registry.pair("K7QMXHD2PQ", "s/p1")
    registry.on_birth("pod-1", birth("K7QMXHD2PQ", bd_seq=1, salt="11" * 16))  # a new offer
    assert registry.devices["pod-1"].owner == "s/p1"  # until someone pairs it
    assert registry.pair("K7QMXHD2PQ", "t/p2").owner == "t/p2"
    assert registry.owned_by("s/p1") == []


def test_a_device_set_up_for_a_session_pairs_only_there() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth("K7QMXHD2PQ", session="commons"))
    with pytest.raises(PairingRefused) as refused:
        registry.pair("K7QMXHD2PQ", "festival/p1")
    assert str(refused.value) == "no device is waiting for that pairing code"  # says no more
    assert registry.pair("K7QMXHD2PQ", "commons/p1").owner == "commons/p1"


def test_nothing_is_online_while_the_broker_is_away() -> None:
    registry = DeviceRegistry()
    registry.broker_up()
    registry.on_birth("pod-1", birth())
    assert registry.online_count() == 1
    assert [d.device_id for d in registry.broker_lost()] == ["pod-1"]
    assert registry.online_count() is None
    registry.broker_up()
    assert registry.online_count() == 0  # until it is heard again
    registry.on_batch("pod-1", batch(0))
    assert registry.online_count() == 1


def test_the_breathing_rate_follows_the_phase_even_when_the_body_runs_faster() -> None:
    """Devices may run the body's rhythms faster than the wall clock (demos, tests): the rate
    the server carries the phase forward with is the phase's own speed on the device clock."""
    sleeper = Sleeper(8)
    estimator = SleeperEstimator()
    scale = 3.0
    for second in range(20):
        samples = [sleeper.advance(0.2 * scale) for _ in range(5)]
        readings = tuple(
            pod_reading(s).model_copy(update={"t": second + 0.2 * i}) for i, s in enumerate(samples)
        )
        estimate = estimator.add(readings, arrived=second + 0.8)
    body_hz = samples[-1].respiration_rate / 60.0
    assert estimate.breath_hz == pytest.approx(body_hz * scale, rel=0.15)


def test_losses_across_a_reconnection_are_counted_and_a_restart_counts_afresh() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth(bd_seq=0))
    registry.on_batch("pod-1", batch(0, bd_seq=0))
    registry.on_batch("pod-1", batch(1, bd_seq=0))
    registry.on_birth("pod-1", birth(bd_seq=1))  # the broker restarted: a new connection
    registry.on_batch("pod-1", batch(5, bd_seq=1))
    record = registry.devices["pod-1"]
    assert record.lost == 3 * 5
    registry.on_batch("pod-1", batch(4, bd_seq=1))  # back on the same connection: a duplicate
    assert record.messages == 3
    registry.on_birth("pod-1", birth(bd_seq=0))  # the device itself restarted
    registry.on_batch("pod-1", batch(0, bd_seq=0))
    registry.on_batch("pod-1", batch(1, bd_seq=0))
    assert record.messages == 5
    assert record.lost == 3 * 5


def test_a_stale_reading_is_forgotten_until_it_comes_back() -> None:
    estimator = SleeperEstimator()
    sleeper = Sleeper(21, acceleration=60.0, real_time_start=0.0)
    _, estimate = list(stream(sleeper, 5, estimator))[-1]
    assert estimate.stage is not None
    assert estimate.breath_phase is not None
    stalled = BioSample(t=10.0, move=0.0, stale=("eeg", "phase", "hr", "hrv", "resp"))
    after = estimator.add((stalled,), arrived=10.0)
    assert after.stage == SleepStage.N2  # movement alone: asleep, its stage unknown
    assert (after.breath_phase, after.breath_hz, after.stress) == (None, None, 0.0)
    back = estimator.add((pod_reading(sleeper.advance(0.2)),), arrived=10.2)
    assert back.stage is not None
    assert back.breath_phase is not None


def test_the_registry_keeps_what_the_last_batch_says_is_stale() -> None:
    registry = DeviceRegistry()
    registry.on_birth("pod-1", birth())
    stale = SampleBatch(seq=0, bd_seq=0, samples=(BioSample(t=0.0, stale=("hr", "hrv")),))
    registry.on_batch("pod-1", stale)
    assert registry.devices["pod-1"].stale == ("hr", "hrv")
    registry.on_batch("pod-1", batch(1))
    assert not registry.devices["pod-1"].stale
