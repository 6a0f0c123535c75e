"""Coherence judged against chance: the baseline the engine computes for the same sleepers and
window, and the fracture verdict that compares the coherence with it."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import margin_above_chance
from dreamcommons.contracts.venues import CoherenceRules, PhaseDurations, load_venue
from dreamcommons.server.engine import DreamEngine, ParticipantJoined, SleeperUpdated
from dreamcommons.server.engine.coherence import (
    PhaseShifts,
    chance_rms,
    surrogate_order,
    unit_vectors,
)

DREAMING = PhaseDurations(gathering=0.0, descent=0.0, dream=1e9)
RULES = CoherenceRules(window_s=10.0, fracture_margin=0.1, heal_margin=0.45, min_sleepers=3)
VENUE = load_venue("sleep-commons").model_copy(update={"phases": DREAMING, "coherence": RULES})
TICKS = 100  # the window: 10 s at 10 Hz


def night(sleepers: int, phases_at: random.Random | None, *, session: str = "night") -> DreamEngine:
    """``sleepers`` breathing for one window: with ``phases_at``, independent random phases at
    every tick; without, all in step (within half a radian of each other)."""
    engine = DreamEngine(VENUE, session)
    pids = [f"p{i}" for i in range(sleepers)]
    for pid in pids:
        engine.apply(ParticipantJoined(participant=pid, name=pid.upper(), role="dreamer"))
    for k in range(1, TICKS + 1):
        t = k * 0.1
        for i, pid in enumerate(pids):
            if phases_at is not None:
                phase = phases_at.uniform(0.0, 2 * math.pi)
            else:
                phase = 0.5 * i / sleepers
            engine.apply(SleeperUpdated(pid, 2, 0.0, phase, 0.25, t))
        engine.tick(t)
    return engine


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=3, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_independent_phases_stay_near_the_baseline_for_every_n(sleepers: int, seed: int) -> None:
    scene = night(sleepers, random.Random(seed)).state.scene
    assert scene.coherence is not None
    assert scene.chance is not None
    # The mean of R over 100 independent ticks: within about five standard errors of chance.
    assert abs(scene.coherence - scene.chance) <= 0.25 / math.sqrt(sleepers) + 0.01
    # Chance is the mean of R, a little under its root mean square 1/sqrt(N).
    assert 0.75 * chance_rms(sleepers) - 0.01 <= scene.chance <= chance_rms(sleepers) + 0.01
    assert scene.above_chance is not None
    assert scene.above_chance < RULES.fracture_margin + 0.1
    assert scene.fractured  # a room at chance fractures, whatever its size


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=3, max_value=120))
def test_entrained_phases_rise_well_above_the_baseline(sleepers: int) -> None:
    scene = night(sleepers, None).state.scene
    assert scene.coherence is not None
    assert scene.chance is not None
    assert scene.coherence > 0.95
    assert scene.chance < 0.7
    assert scene.above_chance is not None
    assert scene.above_chance > RULES.heal_margin
    assert not scene.fractured


@settings(max_examples=10, deadline=None)
@given(
    st.integers(min_value=3, max_value=30),
    st.integers(min_value=0, max_value=2**32),
    st.text(alphabet="abcdefghij-", min_size=1, max_size=12),
)
def test_the_verdict_is_the_same_for_the_same_events_every_time(
    sleepers: int, seed: int, session: str
) -> None:
    first = night(sleepers, random.Random(seed), session=session)
    again = night(sleepers, random.Random(seed), session=session)
    assert first.state == again.state
    assert first.counters == again.counters


def test_the_generator_is_seeded_by_the_session() -> None:
    a, b, other = (PhaseShifts.for_session(s) for s in ("commons", "commons", "festival"))
    assert a.offsets(9) == b.offsets(9)
    assert a.offsets(9) != other.offsets(9)
    assert all(0 <= o < 4096 for o in a.offsets(100))
    assert len(set(a.offsets(1000))) > 700  # spread over the circle


def test_the_surrogate_ignores_how_the_phases_are_aligned() -> None:
    """Shifted at random, phases in step give the same baseline as phases apart: chance."""
    in_step = [0.0] * 12
    apart = [2 * math.pi * i / 12 for i in range(12)]
    shifts = PhaseShifts(7)
    together = sum(surrogate_order(unit_vectors(in_step), shifts) for _ in range(400)) / 400
    spread = sum(surrogate_order(unit_vectors(apart), shifts) for _ in range(400)) / 400
    assert together == pytest.approx(spread, abs=0.02)
    assert together == pytest.approx(math.sqrt(math.pi / 48), abs=0.03)  # E[R], large-N form
    assert surrogate_order([], PhaseShifts(1)) == 0.0


def test_margins_scale_with_the_room_and_absolute_thresholds_do_not() -> None:
    """A room of 3 and a festival of 3,000 at chance both fracture with margins; an absolute
    threshold of 0.3 leaves the small room whole and the festival fractured."""
    legacy = CoherenceRules(fracture_below=0.3, heal_above=0.55)
    for sleepers in (3, 3000):
        chance = 0.886 / math.sqrt(sleepers)
        assert RULES.fractures(chance, chance)
        assert not RULES.fractures(0.98, chance)
        assert RULES.heals(0.98, chance)
    assert not legacy.fractures(0.886 / math.sqrt(3), 0.886 / math.sqrt(3))
    assert legacy.fractures(0.886 / math.sqrt(3000), 0.0)
    assert legacy.heals(0.55, 0.9)
    assert margin_above_chance(0.5, 1.0) == 0.0
    assert margin_above_chance(0.1, 0.5) < 0.0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"fracture_margin": 0.5, "heal_margin": 0.2}, "heal_margin"),
        ({"fracture_below": 0.3}, "go together"),
        ({"fracture_below": 0.5, "heal_above": 0.3}, "heal_above"),
    ],
)
def test_inconsistent_thresholds_are_refused(fields: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        CoherenceRules(**fields)
