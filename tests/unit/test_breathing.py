"""A consenting sleeper's breathing travels in their participant view, as parameters clients
extrapolate, sent again only when that extrapolation strays from the sleeper's rhythm."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.breathing import TAU, breath_phase_at, breath_phases_at, mean_vector
from dreamcommons.contracts.protocol import BreathView, DreamscapeState, ParticipantView
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import (
    DreamEngine,
    ParticipantJoined,
    ShareChanged,
    SleeperUpdated,
    engine_from_snapshot,
    engine_to_snapshot,
)

VENUE = load_venue("sleep-commons")


def engine_with_sleepers(*consenting: bool) -> DreamEngine:
    engine = DreamEngine(VENUE, "breaths")
    for i, consent in enumerate(consenting):
        pid = f"p{i}"
        engine.apply(ParticipantJoined(participant=pid, name=f"S{i}", role="dreamer"))
        engine.apply(ShareChanged(participant=pid, level=None, show_stage=consent))
    return engine


def breathe(pid: str, phase: float, t: float, hz: float = 0.25) -> SleeperUpdated:
    return SleeperUpdated(
        participant=pid, stage=2, stress=0.0, breath_phase=phase, breath_hz=hz, t=t
    )


def view(state: DreamscapeState, pid: str) -> ParticipantView:
    return next(p for p in state.participants if p.id == pid)


def test_a_consenting_sleepers_view_carries_their_breath_and_another_s_never() -> None:
    engine = engine_with_sleepers(True, False)
    engine.apply(breathe("p0", 1.0, 0.05))
    engine.apply(breathe("p1", 2.0, 0.05, hz=0.3))
    state, delta = engine.tick(0.1)
    assert view(state, "p0").breath == BreathView(phase=1.0, hz=0.25, t=0.05)
    assert view(state, "p1").breath is None
    assert [p.breath for p in delta.participants if p.id == "p1"] in ([], [None])
    assert "breath" not in view(state, "p1").model_dump(mode="json")

    engine.apply(ShareChanged(participant="p0", level=None, show_stage=False))
    state, delta = engine.tick(0.2)
    assert view(state, "p0").breath is None
    assert [p.id for p in delta.participants] == ["p0"]  # withdrawn at once


def test_a_steady_rhythm_is_not_sent_again_tick_after_tick() -> None:
    engine = engine_with_sleepers(True)
    engine.apply(breathe("p0", 0.5, 0.0))
    _, first = engine.tick(0.1)
    assert [p.breath is not None for p in first.participants] == [True]
    sent = 0
    for k in range(1, 120):  # twelve seconds of reports, each where the rhythm says it is
        t = k * 0.1
        engine.apply(breathe("p0", (0.5 + TAU * 0.25 * t) % TAU, t))
        _, delta = engine.tick(t + 0.05)
        sent += len(delta.participants)
    assert sent == 0


@pytest.mark.parametrize(
    ("phase", "hz", "sent"),
    [
        (0.5 + TAU * 0.25 * 2.0 + 0.2, 0.25, False),  # a little ahead: within the bound
        (0.5 + TAU * 0.25 * 2.0 + 0.5, 0.25, True),  # a phase jump past it
        (0.5 + TAU * 0.25 * 2.0 - 0.5, 0.25, True),  # behind, as well
        (0.5 + TAU * 0.25 * 2.0, 0.26, False),  # a rate 4 % faster
        (0.5 + TAU * 0.25 * 2.0, 0.28, True),  # 12 % faster
        (0.5 + TAU * 0.25 * 2.0 + TAU, 0.25, False),  # a whole turn on is the same phase
    ],
)
def test_a_phase_jump_or_rate_change_past_the_bound_is_sent(
    phase: float, hz: float, sent: bool
) -> None:
    engine = engine_with_sleepers(True)
    engine.apply(breathe("p0", 0.5, 0.0))
    engine.tick(0.1)
    engine.apply(breathe("p0", phase, 2.0, hz=hz))
    state, delta = engine.tick(2.1)
    assert bool(delta.participants) is sent
    held = view(state, "p0").breath
    assert held is not None
    if sent:
        assert held == BreathView(phase=round(phase % TAU, 3), hz=hz, t=2.0)
    else:
        assert held.t == 0.0


def test_a_breath_no_device_reports_any_more_goes_with_the_coherence_window() -> None:
    engine = engine_with_sleepers(True)
    engine.apply(breathe("p0", 0.5, 0.0))
    engine.tick(0.1)
    window = VENUE.coherence.window_s
    state, delta = engine.tick(window)
    assert view(state, "p0").breath is not None
    assert delta.participants == ()
    state, delta = engine.tick(window + 0.1)
    assert view(state, "p0").breath is None
    assert [p.id for p in delta.participants] == ["p0"]


def test_the_phase_extrapolates_from_the_view() -> None:
    breath = BreathView(phase=6.0, hz=0.25, t=10.0)
    assert breath_phase_at(breath, 10.0) == 6.0
    assert breath_phase_at(breath, 11.0) == pytest.approx((6.0 + math.pi / 2) % TAU)
    assert 0.0 <= breath_phase_at(breath, 3.0) < TAU  # before its time, still on the circle


def test_the_mean_vector_is_long_when_the_sleepers_breathe_in_step() -> None:
    assert mean_vector([]) == (0.0, 0.0)
    assert math.hypot(*mean_vector([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert math.hypot(*mean_vector([0.0, math.pi])) == pytest.approx(0.0, abs=1e-12)
    engine = engine_with_sleepers(True, True, False)
    for i in range(3):
        engine.apply(breathe(f"p{i}", 0.1 * i, 0.0))
    state, _ = engine.tick(0.1)
    assert sorted(breath_phases_at(state, 0.1)) == ["p0", "p1"]


def test_a_restored_engine_holds_and_goes_on_sending_the_same_breaths() -> None:
    engine = engine_with_sleepers(True, True)
    engine.apply(breathe("p0", 1.0, 0.0))
    engine.apply(breathe("p1", 2.0, 0.0, hz=0.2))
    engine.tick(0.1)
    engine.apply(breathe("p0", 4.0, 0.15))  # a jump the next tick will send
    copy = engine_from_snapshot(engine_to_snapshot(engine), VENUE)
    assert view(copy.state, "p1").breath == BreathView(phase=2.0, hz=0.2, t=0.0)
    assert copy.tick(0.2) == engine.tick(0.2)
    assert view(copy.state, "p0").breath == BreathView(phase=4.0, hz=0.25, t=0.15)


# --- properties -----------------------------------------------------------------------------

reports = st.tuples(
    st.sampled_from(["p0", "p1", "p2"]),
    st.floats(-20.0, 20.0),
    st.floats(0.05, 0.5),
)
consents = st.tuples(st.sampled_from(["p0", "p1", "p2"]), st.booleans())
batches = st.lists(
    st.tuples(st.lists(reports, max_size=4), st.lists(consents, max_size=1)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(batches)
def test_each_delta_carries_the_previous_breaths_to_the_next(
    steps: list[tuple[list[tuple[str, float, float]], list[tuple[str, bool]]]],
) -> None:
    engine = engine_with_sleepers(True, False, True)
    consenting = {"p0": True, "p1": False, "p2": True}
    previous = engine.state
    for k, (batch, changes) in enumerate(steps):
        t = k * 0.1
        for pid, phase, hz in batch:
            engine.apply(breathe(pid, phase, t, hz=hz))
        for pid, consent in changes:
            engine.apply(ShareChanged(participant=pid, level=None, show_stage=consent))
            consenting[pid] = consent
        state, delta = engine.tick(t + 0.05)
        assert previous.apply(delta) == state
        for p in state.participants:
            assert p.breath is None or consenting[p.id]
        previous = state
