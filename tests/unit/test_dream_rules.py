"""The dream rules in the pure engine: consent, well-being, coherence and fracture,
harmonizing, phases. Properties for the invariants, examples for the behaviour."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import Delta, DreamscapeState, PhaseName
from dreamcommons.contracts.venues import (
    CoherenceRules,
    HarmonizeRules,
    PhaseDurations,
    VenuePreset,
    load_venue,
)
from dreamcommons.server.engine import DreamEngine, EngineError, events

DREAMING = PhaseDurations(gathering=0.0, descent=0.0, dream=1e9)
VENUE = load_venue("sleep-commons").model_copy(update={"phases": DREAMING})
MOTIFS = [m.name for m in VENUE.motifs]
PEOPLE = [f"p{i}" for i in range(6)]


def engine_with(people: Sequence[str] = PEOPLE, venue: VenuePreset = VENUE) -> DreamEngine:
    engine = DreamEngine(venue, "rules")
    for pid in people:
        engine.apply(events.ParticipantJoined(participant=pid, name=pid.upper(), role="dreamer"))
    return engine


def motif(
    pid: str,
    cid: int,
    name: str,
    *,
    intensity: float = 0.8,
    valence: float = 0.2,
    arousal: float = 0.4,
    private: bool = False,
) -> events.MotifContributed:
    return events.MotifContributed(pid, cid, name, intensity, valence, arousal, private)


def breathing(
    pid: str, phase: float, t: float, stage: int = 4, stress: float = 0.0
) -> events.SleeperUpdated:
    return events.SleeperUpdated(
        participant=pid,
        stage=stage,
        stress=stress,
        breath_phase=phase % (2 * math.pi),
        breath_hz=0.25,
        t=t,
    )


# --- consent --------------------------------------------------------------------------------

actions = st.lists(
    st.tuples(
        st.sampled_from([*PEOPLE, "x"]),
        st.sampled_from(["motif", "whisper", "sleep"]),
        st.sampled_from(MOTIFS),
        st.floats(0.0, 1.0),
        st.floats(-1.0, 1.0),
    ),
    max_size=25,
)
batches = st.lists(actions, min_size=1, max_size=12)


def run(  # type: ignore[no-untyped-def]
    batches: list,  # type: ignore[type-arg]
    *,
    with_x: bool,
    x_share: float = 0.0,
    private_x: bool = False,
    x_whispers_only: bool = False,
):
    engine = engine_with([*PEOPLE, "x"])
    engine.apply(events.ShareChanged(participant="x", level=x_share))
    outputs: list[tuple[DreamscapeState, Delta]] = []
    cid = 0
    for tick, batch in enumerate(batches):
        for pid, kind, name, intensity, valence in batch:
            cid += 1
            if pid == "x" and (not with_x or (x_whispers_only and kind == "motif")):
                continue
            if kind == "whisper":
                engine.apply(events.Whispered(participant=pid, cid=cid, text=f"{name} {cid}"))
            elif kind == "sleep":  # stage, stress and breathing from the sleeper's devices
                stage = cid % 5
                engine.apply(breathing(pid, math.pi * valence, tick * 0.1, stage, intensity))
            else:
                private = private_x and pid == "x"
                engine.apply(
                    motif(pid, cid, name, intensity=intensity, valence=valence, private=private)
                )
        outputs.append(engine.tick(tick * 0.1))
    return outputs


@settings(max_examples=60, deadline=None)
@given(batches)
def test_a_participant_sharing_nothing_changes_nothing_others_see(batches: list) -> None:  # type: ignore[type-arg]
    with_x = run(batches, with_x=True, x_share=0.0)
    without_x = run(batches, with_x=False, x_share=0.0)
    assert with_x == without_x  # every state and every delta, to the last field


@settings(max_examples=60, deadline=None)
@given(batches)
def test_private_motifs_never_leave_the_engine(batches: list) -> None:  # type: ignore[type-arg]
    with_private = run(batches, with_x=True, x_share=1.0, private_x=True)
    without = run(batches, with_x=True, x_share=1.0, x_whispers_only=True)
    assert with_private == without  # every state and every delta, to the last field
    only_x = {name for batch in batches for pid, kind, name, *_ in batch if pid == "x"} - {
        name for batch in batches for pid, _, name, *_ in batch if pid != "x"
    }
    for state, delta in with_private:
        shown = {m.name for m in state.motifs} | {m.name for m in delta.motifs}
        assert not shown & only_x


def test_lowering_the_share_applies_to_what_came_before() -> None:
    engine = engine_with()
    for i, pid in enumerate(PEOPLE):
        engine.apply(motif(pid, 1, MOTIFS[i]))
    engine.tick(0.1)
    assert MOTIFS[0] in {m.name for m in engine.state.motifs}
    engine.apply(events.ShareChanged(participant="p0", level=0.0))
    state, delta = engine.tick(0.2)
    assert MOTIFS[0] not in {m.name for m in state.motifs}
    assert delta.removed == (MOTIFS[0],)
    engine.apply(events.ShareChanged(participant="p0", level=1.0))
    state, _ = engine.tick(0.3)
    assert MOTIFS[0] in {m.name for m in state.motifs}


# --- equity ---------------------------------------------------------------------------------

TICK = "tick"
equity_stream = st.lists(
    st.one_of(
        st.builds(
            lambda p, m, i: motif(p, 0, m, intensity=i),
            st.sampled_from(PEOPLE),
            st.sampled_from(MOTIFS),
            st.floats(0.0, 1.0),
        ),
        st.builds(
            lambda p, level: events.ShareChanged(participant=p, level=level),
            st.sampled_from(PEOPLE),
            st.floats(0.0, 1.0),
        ),
        st.builds(
            lambda p, stage: breathing(p, 0.0, 0.0, stage=stage),
            st.sampled_from(PEOPLE),
            st.integers(0, 4),
        ),
        st.just(TICK),
    ),
    max_size=120,
)


@settings(max_examples=80, deadline=None)
@given(equity_stream)
def test_the_equity_cap_holds_whatever_the_shares_stages_and_pace(stream: list) -> None:  # type: ignore[type-arg]
    engine = engine_with()
    t = 0.0
    for item in [*stream, TICK]:
        if item != TICK:
            engine.apply(item)
            continue
        t += 0.1
        engine.tick(t)
        shares = engine.shares()
        if shares:
            assert max(shares.values()) <= max(VENUE.equity_cap, 1.0 / len(shares)) + 1e-9


def test_someone_sharing_next_to_nothing_does_not_hold_the_room_to_an_equal_split() -> None:
    engine = engine_with()
    engine.apply(motif("p0", 0, "forest", intensity=1.0))
    engine.tick(0.1)
    engine.apply(events.ShareChanged(participant="p0", level=1.175494351e-38))
    engine.tick(0.2)
    engine.apply(motif("p1", 0, "forest", intensity=1.0))
    engine.apply(motif("p2", 0, "forest", intensity=0.5))
    engine.tick(0.3)
    shares = engine.shares()
    assert set(shares) == {"p1", "p2"}  # p0 shows next to nothing: not counted in the room
    assert max(shares.values()) <= max(VENUE.equity_cap, 1.0 / len(shares)) + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.sampled_from([m for m in MOTIFS if m != "moon"]))
def test_a_quiet_dreamer_stays_visible_beside_a_loud_one(loud: int, name: str) -> None:
    engine = engine_with(["loud", "quiet"])
    for cid in range(loud):
        engine.apply(motif("loud", cid, name, intensity=1.0))
    engine.apply(motif("quiet", 0, "moon", intensity=0.6))
    state, _ = engine.tick(0.1)
    weights = {m.name: m.weight for m in state.motifs}
    assert weights["moon"] >= weights[name] - 1e-9


# --- well-being -----------------------------------------------------------------------------


def test_a_stressed_sleepers_dark_restless_input_is_damped() -> None:
    engine = engine_with(venue=VENUE.model_copy(update={"equity_cap": 1.0}))
    engine.apply(breathing("p0", 0.0, 0.0, stress=0.9))
    engine.apply(breathing("p1", 0.0, 0.0, stress=0.0))
    engine.apply(motif("p0", 1, "factory", valence=-0.8, arousal=0.9))
    engine.apply(motif("p1", 1, "clock", valence=-0.8, arousal=0.9))
    engine.apply(motif("p0", 2, "moss", valence=0.5, arousal=0.2))
    engine.apply(motif("p1", 2, "fern", valence=0.5, arousal=0.2))
    state, _ = engine.tick(0.1)
    weights = {m.name: m.weight for m in state.motifs}
    assert weights["factory"] < 0.5 * weights["clock"]
    assert weights["moss"] == pytest.approx(weights["fern"])
    assert engine.counters.damped_contributions == 1


def test_a_stressed_room_calms_the_whole_scene() -> None:
    calm_engine, stressed_engine = engine_with(), engine_with()
    for engine, stress in ((calm_engine, 0.0), (stressed_engine, 0.9)):
        for i, pid in enumerate(PEOPLE):
            engine.apply(breathing(pid, 0.0, 0.0, stress=stress))
            engine.apply(motif(pid, 1, MOTIFS[i], valence=0.3, arousal=0.3))
        engine.tick(0.1)
    assert stressed_engine.state.scene.calm > 0.5
    assert calm_engine.state.scene.calm == 0.0
    assert stressed_engine.state.mood.arousal < calm_engine.state.mood.arousal


# --- coherence, fracture and harmonizing -----------------------------------------------------

RULES = CoherenceRules(window_s=2.0, fracture_margin=0.1, heal_margin=0.45, min_sleepers=3)


def rhythms(engine: DreamEngine, phases: Sequence[float], t: float) -> None:
    for pid, phase in zip(PEOPLE, phases, strict=False):
        engine.apply(breathing(pid, phase - 2 * math.pi * 0.25 * t, t))


def fractured_engine(auto: bool = False) -> DreamEngine:
    venue = VENUE.model_copy(
        update={"coherence": RULES, "harmonize": HarmonizeRules(auto=auto, hold_s=1.0)}
    )
    engine = engine_with(venue=venue)
    for i, pid in enumerate(PEOPLE):
        engine.apply(events.DevicesChanged(participant=pid, online=1))
        engine.apply(motif(pid, 1, MOTIFS[i]))
    spread = [2 * math.pi * i / len(PEOPLE) for i in range(len(PEOPLE))]
    for k in range(1, 11):
        rhythms(engine, spread, k * 0.1)
        engine.tick(k * 0.1)
    return engine


def test_synchronized_sleepers_keep_one_scene() -> None:
    engine = engine_with(venue=VENUE.model_copy(update={"coherence": RULES}))
    for k in range(1, 11):
        rhythms(engine, [0.1 * i for i in range(6)], k * 0.1)
        engine.tick(k * 0.1)
    scene = engine.state.scene
    assert scene.coherence is not None
    assert scene.coherence > 0.9
    assert not scene.fractured
    assert scene.regions == ()
    assert scene.sleepers == 6


def test_desynchronized_sleepers_fracture_the_scene_into_regions() -> None:
    engine = fractured_engine()
    scene = engine.state.scene
    assert scene.fractured
    assert scene.coherence is not None
    assert scene.coherence < 0.35
    assert 2 <= len(scene.regions) <= RULES.max_regions
    members = [pid for region in scene.regions for pid in region.participants]
    assert sorted(members) == sorted(PEOPLE)
    placed = [name for region in scene.regions for name in region.motifs]
    assert sorted(placed) == sorted(m.name for m in engine.state.motifs)
    assert engine.counters.fractures == 1


def test_fractured_regions_regroup_once_a_second_not_every_tick() -> None:
    engine = fractured_engine()
    spread = [2 * math.pi * i / len(PEOPLE) for i in range(len(PEOPLE))]
    changes, regions = 0, engine.state.scene.regions
    for k in range(11, 41):  # three seconds, and a new motif at every tick
        engine.apply(motif(PEOPLE[k % len(PEOPLE)], k, MOTIFS[len(PEOPLE) + k % 12]))
        rhythms(engine, spread, k * 0.1)
        state, _ = engine.tick(k * 0.1)
        assert state.scene.fractured
        changes += state.scene.regions != regions
        regions = state.scene.regions
    assert 2 <= changes <= 4
    placed = {name for region in regions for name in region.motifs}
    assert placed <= {m.name for m in engine.state.motifs}


def test_harmonizing_paces_the_sleepers_and_stops_once_healed() -> None:
    engine = fractured_engine()
    assert engine.drain_intents() == []
    engine.apply(events.HostCommanded(action="harmonize"))
    engine.tick(1.1)
    (pace,) = engine.drain_intents()
    assert pace.hz == VENUE.harmonize.pace_hz
    assert pace.participants == tuple(sorted(PEOPLE))
    assert engine.state.scene.harmonizing
    t = 1.1
    while engine.state.scene.fractured:  # the sleepers entrain: one phase for all
        t += 0.1
        rhythms(engine, [0.0] * 6, t)
        engine.tick(t)
        assert t < 10
    for _ in range(15):
        t += 0.1
        rhythms(engine, [0.0] * 6, t)
        engine.tick(t)
    (stop,) = engine.drain_intents()
    assert stop.hz is None
    assert not engine.state.scene.harmonizing
    assert engine.counters.harmonizations == 1


def test_a_sleeper_whose_devices_come_online_joins_the_pacing_in_phase() -> None:
    engine = fractured_engine()
    engine.apply(events.HostCommanded(action="harmonize"))
    engine.tick(1.1)
    (pace,) = engine.drain_intents()
    engine.apply(events.ParticipantJoined(participant="late", name="LATE", role="dreamer"))
    engine.apply(events.DevicesChanged(participant="late", online=1))
    engine.apply(events.DevicesChanged(participant="late", online=2))  # already paced: nothing more
    engine.apply(events.DevicesChanged(participant="p0", online=2))
    (joined,) = engine.drain_intents()
    assert joined.participants == ("late",)
    assert (joined.hz, joined.t) == (pace.hz, pace.t)  # the same pace, the same phase zero


def test_a_venue_may_harmonize_by_itself() -> None:
    engine = fractured_engine(auto=True)
    intents = engine.drain_intents()
    assert [i.hz for i in intents] == [VENUE.harmonize.pace_hz]


def test_too_few_sleepers_means_no_coherence_and_no_fracture() -> None:
    engine = engine_with(venue=VENUE.model_copy(update={"coherence": RULES}))
    rhythms(engine, [0.0, math.pi], 0.1)
    state, _ = engine.tick(0.1)
    assert state.scene.coherence is None
    assert not state.scene.fractured


# --- phases ---------------------------------------------------------------------------------


def phase_of(engine: DreamEngine) -> PhaseName:
    return engine.state.scene.phase


def test_phases_follow_the_preset_and_the_host() -> None:
    phases = PhaseDurations(autostart=False, gathering=1.0, descent=1.0, dream=1.0, awakening=1.0)
    engine = engine_with(venue=VENUE.model_copy(update={"phases": phases}))
    engine.tick(5.0)
    assert phase_of(engine) == "gathering"  # not started: the host has not begun
    engine.apply(events.HostCommanded(action="start"))
    engine.tick(5.5)
    engine.tick(6.6)
    assert phase_of(engine) == "descent"
    engine.apply(events.HostCommanded(action="pause"))
    engine.tick(9.0)
    assert phase_of(engine) == "descent"
    assert engine.state.scene.paused
    engine.apply(events.HostCommanded(action="advance"))
    engine.tick(9.1)
    assert phase_of(engine) == "dream"
    engine.apply(events.HostCommanded(action="end"))
    engine.tick(9.2)
    assert phase_of(engine) == "ended"
    with pytest.raises(EngineError, match="ended"):
        engine.apply(motif("p0", 1, "moon"))


def test_gathering_contributions_weigh_less_than_in_the_dream() -> None:
    phases = PhaseDurations(autostart=True, gathering=10.0, descent=10.0)
    venue = VENUE.model_copy(update={"phases": phases, "equity_cap": 1.0})
    engine = engine_with(venue=venue)
    for i, pid in enumerate(PEOPLE[:3]):
        engine.apply(motif(pid, 1, MOTIFS[i]))
    engine.tick(0.1)
    engine.apply(events.HostCommanded(action="advance"))
    engine.apply(events.HostCommanded(action="advance"))
    for i, pid in enumerate(PEOPLE[3:]):
        engine.apply(motif(pid, 1, MOTIFS[i + 3]))
    state, _ = engine.tick(0.1)
    weights = {m.name: m.weight for m in state.motifs}
    assert weights[MOTIFS[0]] == pytest.approx(phases.gathering_weight * weights[MOTIFS[3]])


# --- determinism with every kind of event ----------------------------------------------------

people = st.sampled_from(PEOPLE)
unit = st.floats(0, 1)
event_streams = st.lists(
    st.one_of(
        st.builds(
            lambda p, m, c: motif(p, c, m), people, st.sampled_from(MOTIFS), st.integers(0, 99)
        ),
        st.builds(
            lambda p, ph, s: breathing(p, ph, 0.0, stress=s), people, st.floats(0, 6.28), unit
        ),
        st.builds(lambda p, level: events.ShareChanged(participant=p, level=level), people, unit),
        st.builds(
            lambda p, c: events.Whispered(participant=p, cid=c, text="hush"), people, st.integers()
        ),
        st.builds(
            lambda p, n: events.DevicesChanged(participant=p, online=n), people, st.integers(0, 2)
        ),
        st.builds(
            lambda p, b: events.PresenceChanged(participant=p, present=b), people, st.booleans()
        ),
        st.builds(lambda p, m: motif(p, 0, m, private=True), people, st.sampled_from(MOTIFS)),
        st.sampled_from(
            [
                events.HostCommanded(action=a)
                for a in ("harmonize", "advance", "pause", "resume", "end")
            ]
        ),
    ),
    max_size=60,
)


def replay(stream: list[events.Event]) -> list[object]:
    """Every state, delta and pacing intent the engine gives out for ``stream``."""
    engine = engine_with(venue=VENUE.model_copy(update={"coherence": RULES}))
    outputs: list[object] = []
    for i, event in enumerate(stream):
        with contextlib.suppress(EngineError):  # refused after the end, the same way each time
            engine.apply(event)
        if i % 5 == 4:
            outputs += [engine.tick(i * 0.05), engine.drain_intents()]
    outputs += [engine.tick(10.0), engine.drain_intents(), engine.counters]
    return outputs


@settings(max_examples=50, deadline=None)
@given(event_streams)
def test_the_same_events_always_give_the_same_states(stream: list[events.Event]) -> None:
    assert replay(stream) == replay(stream)


def test_a_sleepers_stage_shows_only_while_they_share() -> None:
    engine = engine_with()
    engine.apply(events.ShareChanged(participant="p0", level=None, show_stage=True))
    engine.apply(breathing("p0", 0.0, 0.0, stage=4))
    state, delta = engine.tick(0.1)
    view = {p.id: p for p in state.participants}["p0"]
    assert view.stage == "rem"
    engine.apply(events.ShareChanged(participant="p0", level=0.0))
    state, delta = engine.tick(0.2)
    assert {p.id: p for p in state.participants}["p0"].stage is None
    assert [p.stage for p in delta.participants if p.id == "p0"] == [None]
    engine.apply(breathing("p0", 0.0, 0.3, stage=3))
    state, _ = engine.tick(0.3)
    assert {p.id: p for p in state.participants}["p0"].stage is None
