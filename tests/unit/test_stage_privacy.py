"""A sleeper's hidden stage does not show through the dream: whatever the stage, every frame
anyone receives is the same. A shown stage weighs, but no finer than the label it shows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import Delta, DreamscapeState, Encoding, Role, encode
from dreamcommons.contracts.venues import PhaseDurations, VenuePreset, load_venue
from dreamcommons.server.engine import DreamEngine, events

# Short phases, so that a stream runs through the whole arc and every phase weight; few
# motifs, so that the heaviest are kept and the others forgotten; a cap that holds back.
VENUE = load_venue("sleep-commons").model_copy(
    update={
        "phases": PhaseDurations(gathering=0.3, descent=0.3, dream=0.8, awakening=0.4),
        "max_motifs": 4,
    }
)
MOTIFS = ["moon", "tide", "owl", "lantern", "river", "clock"]
OTHERS = ("p0", "p1", "p2")
SLEEPER = "v"
AWAKE, N1, N2, N3, REM = range(5)
TICK_S = 0.1


@dataclass(frozen=True, slots=True)
class Sleep:
    """The sleeper's devices speak: the same in both runs but for the stage (a, or b)."""

    participant: str
    stages: tuple[int, int]
    stress: float
    phase: float


Step = events.Event | Sleep | None  # None: a tick


def steps(sleeper_consents: bool) -> st.SearchStrategy[list[Step]]:
    people = st.sampled_from([*OTHERS, SLEEPER])
    stage = st.integers(AWAKE, REM)
    if sleeper_consents:  # two stages with one label: light is N1 or N2
        pairs = stage.map(lambda a: (a, {N1: N2, N2: N1}.get(a, a)))
    else:
        pairs = st.tuples(stage, stage)
    unit = st.floats(0.0, 1.0)
    step = st.one_of(
        st.builds(
            lambda pid, cid, name, i, v, a, private: events.MotifContributed(
                pid, cid, name, i, v, a, private=private
            ),
            people,
            st.integers(0, 1000),
            st.sampled_from(MOTIFS),
            unit,
            st.floats(-1.0, 1.0),
            unit,
            st.booleans(),
        ),
        st.builds(
            lambda pid, cid: events.Whispered(pid, cid, f"words {cid}"), people, st.integers(0, 99)
        ),
        st.builds(Sleep, people, pairs, unit, st.floats(0.0, 2 * math.pi)),
        st.builds(
            lambda pid, level, shown: events.ShareChanged(
                pid, level, show_stage=None if pid == SLEEPER else shown
            ),
            people,
            st.none() | unit,
            st.none() | st.booleans(),
        ),
        st.builds(events.DevicesChanged, people, st.integers(0, 2)),
        st.builds(events.PresenceChanged, people, st.booleans()),
        st.builds(
            events.HostCommanded, st.sampled_from(["harmonize", "advance", "pause", "resume"])
        ),
        st.none(),
        st.none(),
    )
    return st.lists(step, max_size=80)


Frame = tuple[DreamscapeState, Delta]


def run(
    stream: list[Step],
    which: int,
    *,
    role: Role = "dreamer",
    consents: bool = False,
    venue: VenuePreset = VENUE,
) -> list[tuple[Frame, bytes | str, bytes | str]]:
    """Every tick's state and delta, with the delta as each encoding sends it."""
    engine = DreamEngine(venue, "privacy")
    for pid in OTHERS:
        engine.apply(events.ParticipantJoined(pid, pid.upper(), "dreamer"))
    engine.apply(events.ParticipantJoined(SLEEPER, "Vesper", role))
    if consents:
        engine.apply(events.ShareChanged(SLEEPER, None, show_stage=True))
    frames = []
    t = 0.0
    for step in [*stream, None]:
        if isinstance(step, Sleep):
            stage = step.stages[which] if step.participant == SLEEPER else step.stages[0]
            engine.apply(
                events.SleeperUpdated(step.participant, stage, step.stress, step.phase, 0.25, t)
            )
        elif step is not None:
            if isinstance(
                step, events.MotifContributed | events.Whispered
            ) and not engine.may_contribute(step.participant):
                continue
            engine.apply(step)
        else:
            t += TICK_S
            state, delta = engine.tick(t)
            engine.drain_intents()
            frames.append(
                ((state, delta), encode(delta, Encoding.MSGPACK), encode(delta, Encoding.JSON))
            )
    return frames


@settings(max_examples=300, deadline=None)
@given(steps(sleeper_consents=False), st.sampled_from(["dreamer", "waker"]))
def test_a_hidden_stage_changes_no_frame_anyone_receives(stream: list[Step], role: Role) -> None:
    assert run(stream, 0, role=role) == run(stream, 1, role=role)


@settings(max_examples=80, deadline=None)
@given(steps(sleeper_consents=True))
def test_a_shown_stage_weighs_no_finer_than_its_label(stream: list[Step]) -> None:
    assert run(stream, 0, consents=True) == run(stream, 1, consents=True)


# --- what the audit measured ----------------------------------------------------------------


def first_weight(stage: int, *, consents: bool, intensity: float = 1.0) -> tuple[float, str]:
    """The weight and the phase another participant sees when the sleeper's one motif
    arrives, at the start of a sleep-commons session (gathering)."""
    stream: list[Step] = [
        Sleep(SLEEPER, (stage, stage), 0.0, 0.0),
        events.MotifContributed(SLEEPER, 1, "moon", intensity, 0.4, 0.3),
        None,
    ]
    venue = load_venue("sleep-commons")
    ((state, delta), _, _), *_ = run(stream, 0, consents=consents, venue=venue)
    assert delta.applied == {SLEEPER: 1}
    (view,) = delta.motifs
    assert view.weight is not None  # a new motif arrives whole
    return view.weight, state.scene.phase


@pytest.mark.parametrize("intensity", [0.25, 0.6, 1.0])
def test_awake_and_deep_weigh_alike_while_the_stage_is_hidden(intensity: float) -> None:
    venue = load_venue("sleep-commons")
    awake = first_weight(AWAKE, consents=False, intensity=intensity)
    deep = first_weight(N3, consents=False, intensity=intensity)
    assert awake == deep
    weight, phase = awake
    assert phase == "gathering"
    expected = intensity * venue.role_weights.dreamer * venue.phases.gathering_weight
    assert weight == pytest.approx(expected, abs=1e-4)


def test_a_shown_stage_weighs_by_its_label() -> None:
    stages = load_venue("sleep-commons").stage_weights
    awake, _ = first_weight(AWAKE, consents=True)
    deep, _ = first_weight(N3, consents=True)
    light, _ = first_weight(N1, consents=True)
    assert deep / awake == pytest.approx(stages.n3 / stages.wake, rel=1e-3)
    assert light == first_weight(N2, consents=True)[0]
    assert light / awake == pytest.approx((stages.n1 + stages.n2) / 2 / stages.wake, rel=1e-3)
