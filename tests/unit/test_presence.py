"""Presence that scales: a small room lists everyone as it always has; past the venue's
``list_everyone_up_to``, frames list the hosts and the stages shown, and counts the rest."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.client.plain_view import render
from dreamcommons.contracts.protocol import DreamscapeState, PeopleCount, Role
from dreamcommons.contracts.venues import PhaseDurations, VenuePreset, load_venue
from dreamcommons.server.engine import (
    DreamEngine,
    EngineError,
    engine_from_snapshot,
    engine_to_snapshot,
    events,
)

SMALL_LIST = load_venue("sleep-commons").model_copy(
    update={
        "phases": PhaseDurations(gathering=0.0, descent=0.0, dream=1e9),
        "list_everyone_up_to": 3,
    }
)


def room(*people: tuple[str, Role], venue: VenuePreset = SMALL_LIST) -> DreamEngine:
    engine = DreamEngine(venue, "test")
    for pid, role in people:
        engine.apply(events.ParticipantJoined(participant=pid, name=pid.upper(), role=role))
    engine.tick(0.1)
    return engine


def show_stage(engine: DreamEngine, pid: str, stage: int) -> None:
    engine.apply(events.ShareChanged(participant=pid, level=None, show_stage=True))
    engine.apply(
        events.SleeperUpdated(
            participant=pid, stage=stage, stress=0.0, breath_phase=None, breath_hz=None, t=0.0
        )
    )


def listed(state: DreamscapeState) -> list[str]:
    return [p.id for p in state.participants]


def test_a_small_room_lists_everyone_and_counts_them() -> None:
    engine = room(("p1", "host"), ("p2", "dreamer"), ("p3", "watcher"))
    assert listed(engine.state) == ["p1", "p2", "p3"]
    assert engine.state.people == PeopleCount(
        here=3, away=0, roles={"dreamer": 1, "host": 1, "watcher": 1}
    )


def test_past_the_venues_size_only_hosts_and_shown_stages_are_listed() -> None:
    engine = room(("p1", "host"), ("p2", "dreamer"), ("p3", "dreamer"), ("p4", "dreamer"))
    assert listed(engine.state) == ["p1"]
    assert engine.state.people == PeopleCount(here=4, roles={"dreamer": 3, "host": 1})
    show_stage(engine, "p3", 4)
    _, delta = engine.tick(0.2)
    assert [p.id for p in delta.participants] == ["p3"]
    assert delta.participants[0].stage == "rem"
    assert delta.people is None  # nobody came or went


def test_seating_one_more_in_a_large_room_costs_the_others_a_count_not_a_row() -> None:
    engine = room(("p1", "host"), ("p2", "dreamer"), ("p3", "dreamer"), ("p4", "dreamer"))
    engine.apply(events.ParticipantJoined(participant="p5", name="P5", role="dreamer"))
    _, delta = engine.tick(0.2)
    assert delta.participants == ()
    assert delta.people == PeopleCount(here=5, roles={"dreamer": 4, "host": 1})
    engine.apply(events.PresenceChanged(participant="p5", present=False))
    _, delta = engine.tick(0.3)
    assert delta.participants == ()
    assert delta.people == PeopleCount(here=4, away=1, roles={"dreamer": 3, "host": 1})


def test_one_who_hides_their_stage_in_a_large_room_is_no_longer_listed() -> None:
    engine = room(("p1", "dreamer"), ("p2", "dreamer"), ("p3", "dreamer"), ("p4", "dreamer"))
    show_stage(engine, "p2", 2)
    engine.tick(0.2)
    assert listed(engine.state) == ["p2"]
    engine.apply(events.ShareChanged(participant="p2", level=None, show_stage=False))
    state, delta = engine.tick(0.3)
    assert delta.left == ("p2",)  # unlisted, though still here
    assert listed(state) == []
    assert state.people.here == 4


def test_a_room_that_shrinks_back_lists_everyone_again() -> None:
    engine = room(("p1", "host"), ("p2", "dreamer"), ("p3", "dreamer"), ("p4", "dreamer"))
    engine.apply(events.ParticipantLeft(participant="p4"))
    state, delta = engine.tick(0.2)
    assert [p.id for p in delta.participants] == ["p2", "p3"]
    assert delta.left == ()  # p4 was never listed to anyone
    assert listed(state) == ["p1", "p2", "p3"]


def test_the_whole_list_comes_a_page_at_a_time_in_id_order() -> None:
    engine = room(*[(f"p{i}", "dreamer") for i in range(1, 8)])
    total, first = engine.people_page(0, 3)
    _, rest = engine.people_page(3, 10)
    assert total == 7
    assert [p.id for p in first + rest] == sorted(f"p{i}" for i in range(1, 8))
    assert engine.people_page(7, 3) == (7, ())


pids = st.sampled_from([f"p{i}" for i in range(1, 8)])
people_events = st.one_of(
    st.builds(
        lambda pid, role: events.ParticipantJoined(participant=pid, name=pid, role=role),
        pids,
        st.sampled_from(["dreamer", "host", "watcher"]),
    ),
    st.builds(lambda pid: events.ParticipantLeft(participant=pid), pids),
    st.builds(
        lambda pid, b: events.PresenceChanged(participant=pid, present=b), pids, st.booleans()
    ),
    st.builds(
        lambda pid, b: events.ShareChanged(participant=pid, level=None, show_stage=b),
        pids,
        st.booleans(),
    ),
    st.builds(
        lambda pid, stage: events.SleeperUpdated(pid, stage, 0.0, None, None, 0.0),
        pids,
        st.one_of(st.none(), st.integers(0, 4)),
    ),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(people_events, max_size=6), max_size=12), st.integers(1, 4))
def test_deltas_carry_a_large_rooms_list_and_counts_and_a_snapshot_goes_on_alike(
    batches: list[list[events.Event]], list_max: int
) -> None:
    venue = SMALL_LIST.model_copy(update={"list_everyone_up_to": list_max})
    engine = DreamEngine(venue, "test")
    restored: DreamEngine | None = None
    for n, batch in enumerate(batches, start=1):
        for event in batch:
            for target in (engine, restored):
                if target is not None:
                    with contextlib.suppress(EngineError):  # unknown, or joined already
                        target.apply(event)
        before = engine.state
        state, delta = engine.tick(n * 0.1)
        if restored is not None:
            assert restored.tick(n * 0.1) == (state, delta)
        assert before.apply(delta) == state
        total, everyone = engine.people_page(0, 100)
        assert state.people.here + state.people.away == total == len(everyone)
        assert set(listed(state)) <= {p.id for p in everyone}
        assert len(state.participants) == total or len(state.participants) <= list_max
        restored = engine_from_snapshot(engine_to_snapshot(engine), venue)


def test_the_plain_view_says_how_many_are_here_and_whether_all_are_listed() -> None:
    small = room(("p1", "host"), ("p2", "dreamer"))
    assert "here: P1 [host], P2\n" in render(small.state) + "\n"  # as a small room always was
    large = room(("p1", "host"), ("p2", "dreamer"), ("p3", "dreamer"), ("p4", "dreamer"))
    large.apply(events.PresenceChanged(participant="p4", present=False))
    large.tick(0.2)
    assert "here: P1 [host] (3 here, 1 away; listed: the hosts and the stages shown)" in render(
        large.state
    )
