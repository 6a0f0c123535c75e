"""The sleep physiology model: hypnogram shape, stage physiology, pacing, stress, determinism."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.firmware_sim.fleet import fleet_configs
from dreamcommons.firmware_sim.physiology import (
    Baseline,
    Sample,
    Sleeper,
    Stage,
    baseline_for,
    hypnogram,
    order_parameter,
)

SEEDS = range(8)
LIGHT = (Stage.N1, Stage.N2)


def sleep_share(night: list[Stage], stage: Stage) -> float:
    asleep = [s for s in night if s is not Stage.WAKE]
    return sum(1 for s in asleep if s is stage) / len(asleep)


def runs(night: list[Stage]) -> list[tuple[Stage, int]]:
    return [(stage, len(list(group))) for stage, group in itertools.groupby(night)]


def share_in(night: list[Stage], stage: Stage, lo: int, hi: int) -> float:
    total = sum(1 for s in night if s is stage)
    return sum(1 for s in night[lo:hi] if s is stage) / total


def run_night(seed: int, acceleration: float, dt: float) -> list[Sample]:
    sleeper = Sleeper(seed, acceleration=acceleration)
    return [sleeper.advance(dt) for _ in range(round(480 * 60 / acceleration / dt))]


def run_group(sleepers: list[Sleeper], seconds: float, dt: float = 0.2) -> list[list[Sample]]:
    return [[s.advance(dt) for s in sleepers] for _ in range(round(seconds / dt))]


def r_of(samples: list[Sample]) -> float:
    return order_parameter([s.breath_phase for s in samples])


# --- hypnogram -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_stage_shares_of_total_sleep_are_within_literature_ranges(seed: int) -> None:
    night = hypnogram(seed)
    assert 0.02 <= sleep_share(night, Stage.N1) <= 0.05
    assert 0.45 <= sleep_share(night, Stage.N2) <= 0.55
    assert 0.10 <= sleep_share(night, Stage.N3) <= 0.20
    assert 0.20 <= sleep_share(night, Stage.REM) <= 0.25


@pytest.mark.parametrize("seed", SEEDS)
def test_night_has_onset_latency_cycles_and_brief_awakenings(seed: int) -> None:
    night = hypnogram(seed)
    assert len(night) == 960
    total_sleep_min = sum(1 for s in night if s is not Stage.WAKE) / 2
    assert 425 <= total_sleep_min <= 465
    assert 0.88 <= total_sleep_min / 480 <= 0.97
    segments = runs(night)
    first_stage, first_len = segments[0]
    assert first_stage is Stage.WAKE
    assert 10 <= first_len / 2 <= 30
    assert segments[1][0] is Stage.N1
    rem_episodes = [n for stage, n in segments if stage is Stage.REM]
    assert 4 <= len(rem_episodes) <= 5
    assert rem_episodes[-1] > rem_episodes[0]
    awakenings = [n for stage, n in segments[1:-1] if stage is Stage.WAKE]
    assert len(awakenings) >= 2
    assert max(awakenings) <= 10  # epochs: none longer than 5 min


@pytest.mark.parametrize("seed", SEEDS)
def test_n3_comes_early_and_rem_late(seed: int) -> None:
    night = hypnogram(seed)
    third = len(night) // 3
    assert share_in(night, Stage.N3, 0, third) >= 0.6
    assert share_in(night, Stage.N3, 2 * third, len(night)) <= 0.1
    rem_last = share_in(night, Stage.REM, 2 * third, len(night))
    assert rem_last >= 0.45
    assert rem_last > 2 * share_in(night, Stage.REM, 0, third)


def test_hypnogram_is_seeded() -> None:
    assert hypnogram(7) == hypnogram(7)
    assert hypnogram(7) != hypnogram(8)
    assert all(isinstance(s, Stage) for s in hypnogram(7))
    assert [int(s) for s in Stage] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("minutes", [60.0, 240.0, 720.0])
def test_other_night_lengths_keep_the_shape(minutes: float) -> None:
    night = hypnogram(3, minutes)
    assert len(night) == round(minutes * 2)
    assert night[0] is Stage.WAKE
    assert 0.15 <= sleep_share(night, Stage.N3) <= 0.21
    assert 0.22 <= sleep_share(night, Stage.REM) <= 0.26


@pytest.mark.parametrize("minutes", [59.0, 721.0, math.nan])
def test_hypnogram_rejects_implausible_nights(minutes: float) -> None:
    with pytest.raises(ValueError, match="night_minutes"):
        hypnogram(1, minutes)


# --- baseline and stage physiology --------------------------------------------------------------


def test_baselines_are_plausible_and_seeded() -> None:
    people = [baseline_for(seed) for seed in range(200)]
    for b in people:
        assert 55 <= b.heart_rate <= 70
        assert 30 <= b.hrv_rmssd <= 60
        assert 0.22 <= b.respiration_hz <= 0.26
        assert 33.5 <= b.skin_temp <= 34.5
        assert 0.7 <= b.pacing_compliance <= 1.0
    assert baseline_for(5) == baseline_for(5)
    assert len({b.heart_rate for b in people}) == len(people)
    assert isinstance(Sleeper(5).baseline, Baseline)


def test_stage_means_are_ordered_as_in_penzel_table_1() -> None:
    # Per-person means relative to REM, averaged over four people (light = N1 + N2).
    fields: dict[str, Callable[[Sample], float]] = {
        "hr": lambda s: s.heart_rate,
        "hrv": lambda s: s.hrv_rmssd,
        "resp": lambda s: s.respiration_rate,
    }
    groups = {"wake": (Stage.WAKE,), "light": LIGHT, "deep": (Stage.N3,), "rem": (Stage.REM,)}
    ratios: dict[tuple[str, str], list[float]] = {}
    for seed in range(4):
        samples = run_night(seed, acceleration=20.0, dt=0.5)
        for name, get in fields.items():
            means = {
                g: statistics.fmean(get(s) for s in samples if s.stage in stages)
                for g, stages in groups.items()
            }
            for g in groups:
                ratios.setdefault((name, g), []).append(means[g] / means["rem"])
    m = {key: statistics.fmean(values) for key, values in ratios.items()}
    assert m["hr", "wake"] > m["hr", "rem"] > m["hr", "deep"] > m["hr", "light"]
    assert m["hrv", "wake"] > m["hrv", "rem"] > m["hrv", "light"] > m["hrv", "deep"]
    assert m["resp", "wake"] > m["resp", "rem"] > m["resp", "light"] > m["resp", "deep"]
    assert m["hr", "wake"] == pytest.approx(1.06, abs=0.01)
    assert m["hrv", "wake"] == pytest.approx(1.15, abs=0.05)
    assert m["resp", "deep"] == pytest.approx(0.92, abs=0.015)


def test_eeg_bands_sum_to_one_and_match_the_stage() -> None:
    samples = run_night(2, acceleration=30.0, dt=0.5)
    for s in samples:
        bands = (s.eeg_delta, s.eeg_theta, s.eeg_alpha, s.eeg_beta)
        assert sum(bands) == pytest.approx(1.0)
        assert all(0.0 <= b <= 1.0 for b in bands)

    def dominant(s: Sample) -> str:
        bands = {"delta": s.eeg_delta, "theta": s.eeg_theta, "alpha": s.eeg_alpha}
        return max({**bands, "beta": s.eeg_beta}.items(), key=lambda kv: kv[1])[0]

    def share(stage: Stage, band: str) -> float:
        of_stage = [s for s in samples if s.stage is stage]
        return sum(1 for s in of_stage if dominant(s) == band) / len(of_stage)

    assert share(Stage.N3, "delta") >= 0.95
    assert share(Stage.WAKE, "alpha") >= 0.8
    assert share(Stage.N1, "theta") >= 0.6


def test_movement_stops_in_rem_and_skin_warms_over_the_night() -> None:
    samples = run_night(4, acceleration=30.0, dt=0.5)

    def mean_movement(stage: Stage) -> float:
        return statistics.fmean(s.movement for s in samples if s.stage is stage)

    assert mean_movement(Stage.WAKE) > 5 * mean_movement(Stage.N2)
    assert mean_movement(Stage.N2) > mean_movement(Stage.REM)
    assert mean_movement(Stage.REM) < 0.02
    hour = len(samples) // 8
    first = statistics.fmean(s.skin_temp for s in samples[hour : 2 * hour])
    last = statistics.fmean(s.skin_temp for s in samples[-2 * hour : -hour])
    assert last > first


def test_breathing_runs_in_real_time_under_acceleration() -> None:
    sleeper = Sleeper(6, acceleration=60.0)
    dt = 0.1
    samples = [sleeper.advance(dt) for _ in range(1200)]  # 2 real minutes, 2 night hours
    assert samples[-1].t == pytest.approx(120 * 60)
    assert sleeper.real_time == pytest.approx(120)
    turns = sum(
        math.remainder(b.breath_phase - a.breath_phase, 2 * math.pi)
        for a, b in itertools.pairwise(samples)
    ) / (2 * math.pi)
    assert 10 <= turns / 2 <= 20  # breaths per real minute
    assert all(10 <= s.respiration_rate <= 20 for s in samples)


# --- pacing ----------------------------------------------------------------------------------


def test_pacing_synchronises_a_group_gradually() -> None:
    sleepers = [Sleeper(seed) for seed in range(40, 48)]
    for s in sleepers:
        s.pace(0.1)
    history = run_group(sleepers, 60.0)
    assert r_of(history[9]) < 0.3  # 2 s: engagement has barely started
    assert r_of(history[-1]) > 0.8
    assert min(r_of(step) for step in history[-50:]) > 0.8
    assert all(s.respiration_rate < 9.0 for s in history[-1])


def test_pacing_pulls_each_phase_towards_the_pace_not_instantly() -> None:
    sleepers = [Sleeper(seed, real_time_start=100.0) for seed in SEEDS]
    for s in sleepers:
        s.pace(0.2, reference_time=100.0)

    def phase_error(samples: list[Sample], t: float) -> float:
        pace = 2 * math.pi * 0.2 * (t - 100.0)
        return statistics.fmean(
            abs(math.remainder(s.breath_phase - pace, 2 * math.pi)) for s in samples
        )

    history = run_group(sleepers, 60.0)
    assert phase_error(history[9], 102.0) > 0.8
    assert phase_error(history[-1], 160.0) < 0.4


def test_breathing_frequency_relaxes_towards_the_pace_over_tens_of_seconds() -> None:
    sleeper = Sleeper(11)
    sleeper.pace(0.1)
    rates = [sleeper.advance(0.5).respiration_rate for _ in range(240)]  # 2 minutes, 2 Hz

    def gap_left(t: float) -> float:  # share of the way from the own rate to 6/min still to go
        own = sleeper.baseline.respiration_hz * 60 * 1.02  # awake: the night has just begun
        return (statistics.fmean(rates[round(2 * t) - 4 : round(2 * t) + 4]) - 6.0) / (own - 6.0)

    assert gap_left(5) > 0.6
    assert 0.3 < gap_left(20) < 0.7
    assert gap_left(60) < 0.35
    assert gap_left(115) > 0.05  # close, not perfect
    sleeper.pace(None)
    after = [sleeper.advance(0.5).respiration_rate for _ in range(240)]
    assert statistics.fmean(after[:8]) < 9.0
    assert statistics.fmean(after[-20:]) > 11.0


def test_unpaced_group_stays_unsynchronised() -> None:
    sleepers = [Sleeper(seed) for seed in SEEDS]
    history = run_group(sleepers, 60.0)
    assert statistics.fmean(r_of(step) for step in history) < 0.5


def test_order_parameter() -> None:
    assert order_parameter([1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert order_parameter([0.0, math.pi]) == pytest.approx(0.0, abs=1e-12)
    assert order_parameter([k * math.pi / 2 for k in range(4)]) == pytest.approx(0.0, abs=1e-12)
    assert order_parameter([0.0, math.pi / 2]) == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="at least one"):
        order_parameter([])


# --- stress ----------------------------------------------------------------------------------


def test_stress_episode_raises_heart_rate_and_lowers_hrv() -> None:
    calm, stressed = Sleeper(9, start_minute=200), Sleeper(9, start_minute=200)
    stressed.stress_episode(0.8, 30.0)
    pairs = [(calm.advance(0.5), stressed.advance(0.5)) for _ in range(120)]
    during = pairs[30:60]  # 15-30 s into the episode
    assert statistics.fmean(s.heart_rate - c.heart_rate for c, s in during) > 8.0
    assert statistics.fmean(s.hrv_rmssd / c.hrv_rmssd for c, s in during) < 0.7
    assert all(s.stress > 0.6 for _, s in during)
    assert all(c.stress == 0.0 for c, _ in pairs)
    assert pairs[-1][1].stress < 0.01  # 30 s after the end
    assert pairs[-1][1].stage == pairs[-1][0].stage


# --- determinism and invariants --------------------------------------------------------------


def scripted(seed: int) -> list[Sample]:
    sleeper = Sleeper(seed, acceleration=30.0, start_minute=100.0, real_time_start=5.0)
    out = [sleeper.advance(0.25) for _ in range(40)]
    sleeper.pace(0.15, reference_time=5.0)
    sleeper.stress_episode(0.5, 3.0)
    return out + [sleeper.advance(dt) for dt in (0.02, 1.0, 0.5) * 20]


def test_same_seed_same_samples_different_seed_different() -> None:
    assert scripted(21) == scripted(21)
    assert scripted(21) != scripted(22)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.advance(-0.1), "dt"),
        (lambda s: s.advance(math.inf), "dt"),
        (lambda s: s.pace(2.0), "pacing frequency"),
        (lambda s: s.pace(math.nan), "pacing frequency"),
        (lambda s: s.stress_episode(1.5, 10.0), "stress level"),
        (lambda s: s.stress_episode(0.5, -1.0), "duration_s"),
    ],
)
def test_bad_arguments_are_rejected(call: Callable[[Sleeper], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(Sleeper(1))


def test_bad_construction_is_rejected() -> None:
    with pytest.raises(ValueError, match="acceleration"):
        Sleeper(1, acceleration=0.0)
    with pytest.raises(ValueError, match="start_minute"):
        Sleeper(1, start_minute=500.0)


def test_after_the_night_the_sleeper_is_awake() -> None:
    sleeper = Sleeper(1, acceleration=600.0, start_minute=479.0)
    samples = [sleeper.advance(1.0) for _ in range(5)]
    assert samples[-1].t > 480 * 60
    assert samples[-1].stage is Stage.WAKE


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64),
    dts=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=60),
    acceleration=st.floats(min_value=1.0, max_value=600.0),
    start_minute=st.floats(min_value=0.0, max_value=480.0),
    pace=st.none() | st.floats(min_value=0.05, max_value=0.5),
    stress=st.floats(min_value=0.0, max_value=1.0),
)
def test_every_sample_is_finite_and_in_range(
    seed: int,
    dts: list[float],
    acceleration: float,
    start_minute: float,
    pace: float | None,
    stress: float,
) -> None:
    sleeper = Sleeper(seed, acceleration=acceleration, start_minute=start_minute)
    sleeper.pace(pace)
    sleeper.stress_episode(stress, 5.0)
    for dt in dts:
        s = sleeper.advance(dt)
        values = [getattr(s, name) for name in Sample.__dataclass_fields__]
        assert all(math.isfinite(v) for v in values)
        assert 30 <= s.heart_rate <= 220
        assert 5 <= s.hrv_rmssd <= 250
        assert 3 <= s.respiration_rate <= 40
        assert 0 <= s.breath_phase < 2 * math.pi
        bands = (s.eeg_delta, s.eeg_theta, s.eeg_alpha, s.eeg_beta)
        assert all(0 <= b <= 1 for b in bands)
        assert sum(bands) == pytest.approx(1.0)
        assert 0 <= s.movement <= 1
        assert 0 <= s.stress <= 1
        assert 30 <= s.skin_temp <= 38
        assert s.t == pytest.approx(sleeper.night_time)
    assert sleeper.real_time == pytest.approx(sum(dts))


def test_a_fleet_may_start_its_sleepers_out_of_step() -> None:
    configs = fleet_configs(8, seed=4, desynchronized=True)
    phases = [c.breath_phase for c in configs]
    assert all(p is not None for p in phases)
    assert order_parameter([p for p in phases if p is not None]) < 1e-9
    sleepers = [Sleeper(c.seed, breath_phase=c.breath_phase) for c in configs]
    assert order_parameter([s.advance(0.0).breath_phase for s in sleepers]) < 0.05
    drawn = Sleeper(configs[0].seed).advance(1.0)
    placed = Sleeper(configs[0].seed, breath_phase=0.0).advance(1.0)
    assert (drawn.hrv_rmssd, drawn.eeg_delta) == (placed.hrv_rmssd, placed.eeg_delta)
    assert fleet_configs(8, seed=4)[0].breath_phase is None
