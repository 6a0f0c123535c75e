"""The merge engine: decay, equity, whispers, membership, determinism."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.errors import DreamcommonsError
from dreamcommons.contracts.motion import weight_at
from dreamcommons.contracts.protocol import Delta, DreamscapeState, Encoding, encode
from dreamcommons.contracts.venues import PhaseDurations, VenuePreset, load_venue
from dreamcommons.server.engine import ContributionRefused, DreamEngine, EngineError, events

# Phases that go straight to the dream and stay there, so that weights are easy to predict.
VENUE = load_venue("sleep-commons").model_copy(
    update={"phases": PhaseDurations(gathering=0.0, descent=0.0, dream=1e9)}
)
MOTIFS = [m.name for m in VENUE.motifs]


def engine_with(*names: str, venue: VenuePreset = VENUE) -> DreamEngine:
    engine = DreamEngine(venue, "test")
    for name in names:
        engine.apply(events.ParticipantJoined(participant=name, name=name.title(), role="dreamer"))
    return engine


def contribute(
    pid: str, cid: int, motif: str = "forest", intensity: float = 1.0
) -> events.MotifContributed:
    return events.MotifContributed(
        participant=pid, cid=cid, motif=motif, intensity=intensity, valence=0.5, arousal=0.5
    )


def weight(engine: DreamEngine, motif: str) -> float:
    """The motif's weight at the last tick, from the parameters its view holds."""
    state = engine.state
    view = next(m for m in state.motifs if m.name == motif)
    return weight_at(view.weight, view.t, state.t, state.half_life_s)


def test_a_contribution_is_merged_at_the_next_tick_not_before() -> None:
    engine = engine_with("p1")
    engine.apply(contribute("p1", 7))
    assert engine.state.motifs == ()
    state, delta = engine.tick(0.1)
    assert [m.name for m in state.motifs] == ["forest"]
    assert delta.applied == {"p1": 7}
    assert delta.seq == 1
    assert state.motifs[0].colour == VENUE.motif("forest").colour  # type: ignore[union-attr]


def test_weights_halve_every_half_life() -> None:
    engine = engine_with("p1")
    engine.apply(contribute("p1", 1))
    engine.tick(0.0)
    start = weight(engine, "forest")
    engine.tick(VENUE.half_life_s)
    assert weight(engine, "forest") == pytest.approx(start / 2, rel=1e-3)
    engine.tick(3 * VENUE.half_life_s)
    assert weight(engine, "forest") == pytest.approx(start / 8, rel=1e-3)


def test_a_quiet_room_sends_its_motifs_once_and_then_only_its_ticks() -> None:
    engine = engine_with("p1")
    engine.apply(contribute("p1", 1))
    _, first = engine.tick(0.0)
    assert [m.name for m in first.motifs] == ["forest"]
    assert first.mood is not None
    start = weight(engine, "forest")
    for k in range(1, 50):
        _, delta = engine.tick(k * 0.1)
        assert delta.motifs == ()
        assert delta.mood is None
        assert delta.scene is None
        assert json.loads(encode(delta, Encoding.JSON)) == {
            "type": "delta",
            "seq": k + 1,
            "t": round(k * 0.1, 3),
        }
    assert weight(engine, "forest") == pytest.approx(start * 2 ** (-4.9 / VENUE.half_life_s))


def test_a_motif_raised_again_carries_only_what_changed() -> None:
    engine = engine_with("p1")
    engine.apply(contribute("p1", 1))
    engine.tick(0.0)
    engine.apply(contribute("p1", 2, intensity=0.5))
    state, delta = engine.tick(0.1)
    (update,) = delta.motifs
    sent = json.loads(encode(delta, Encoding.JSON))["motifs"][0]
    assert set(sent) == {"name", "weight", "intensity"}  # colour, place, phase: sent once
    assert update.weight == state.motifs[0].weight
    assert state.motifs[0].t == 0.1


def test_a_weight_that_moved_less_than_anyone_sees_is_not_sent_again() -> None:
    """A motif that a hundred raised: one more alike moves its weight by 1 %, under the 2 %
    that goes out again, so the delta carries no update and the state keeps the view it had
    (deltas still add up to it); three more, and the update goes out with the new weight."""
    pids = [f"p{i}" for i in range(100)]
    engine = engine_with(*pids)
    for pid in pids:
        engine.apply(contribute(pid, 1))
    engine.tick(0.0)
    held = engine.state.motifs[0]
    engine.apply(contribute("p0", 2))
    state, delta = engine.tick(0.1)
    assert delta.applied == {"p0": 2}
    assert delta.motifs == ()
    assert state.motifs == (held,)
    for pid in pids[1:4]:
        engine.apply(contribute(pid, 2))
    state, delta = engine.tick(0.2)
    (update,) = delta.motifs
    assert update.weight == state.motifs[0].weight > held.weight * 1.03


def test_faded_motifs_are_removed_and_the_delta_says_so() -> None:
    engine = engine_with("p1")
    engine.apply(contribute("p1", 1, intensity=0.2))
    engine.tick(0.0)
    state, delta = engine.tick(VENUE.half_life_s * 10)
    assert state.motifs == ()
    assert delta.removed == ("forest",)


def test_stored_weights_survive_a_long_night_without_overflow() -> None:
    engine = engine_with("p1")
    t = 0.0
    for cid in range(400):
        t = cid * VENUE.half_life_s * 2
        engine.apply(contribute("p1", cid))
        engine.tick(t)
    # one unit every two half-lives settles at 1 + 1/4 + 1/16 + ... = 4/3
    assert weight(engine, "forest") == pytest.approx(4 / 3, rel=1e-3)


def test_one_loud_participant_is_held_to_the_equity_cap() -> None:
    names = [f"p{i}" for i in range(10)]
    engine = engine_with(*names)
    for cid in range(200):
        engine.apply(contribute("p0", cid, motif="factory"))
    for i, pid in enumerate(names[1:]):
        engine.apply(contribute(pid, 0, motif=MOTIFS[i]))
    engine.tick(0.1)
    shares = engine.shares()
    assert shares["p0"] == pytest.approx(VENUE.equity_cap, rel=1e-6)
    assert all(shares[pid] > 0.05 for pid in names[1:])


def test_whispers_keep_the_most_recent() -> None:
    engine = engine_with("p1")
    for cid in range(VENUE.max_whispers + 5):
        engine.apply(events.Whispered(participant="p1", cid=cid, text=f"w{cid}"))
    state, delta = engine.tick(1.0)
    assert len(state.whispers) == VENUE.max_whispers
    assert state.whispers[-1].text == f"w{VENUE.max_whispers + 4}"
    assert state.whispers[-1].name == "P1"
    assert delta.whispers == state.whispers


def test_membership_changes_travel_in_the_delta() -> None:
    engine = engine_with("p1", "p2")
    state, delta = engine.tick(0.1)
    assert [p.id for p in delta.participants] == ["p1", "p2"]
    engine.apply(events.PresenceChanged(participant="p2", present=False))
    state, delta = engine.tick(0.2)
    assert [(p.id, p.present) for p in delta.participants] == [("p2", False)]
    engine.apply(events.ParticipantLeft(participant="p1"))
    state, delta = engine.tick(0.3)
    assert delta.left == ("p1",)
    assert [p.id for p in state.participants] == ["p2"]


def test_watchers_and_strangers_cannot_contribute() -> None:
    engine = DreamEngine(VENUE, "test")
    engine.apply(events.ParticipantJoined(participant="w", name="W", role="watcher"))
    engine.apply(events.ParticipantJoined(participant="h", name="H", role="host"))
    with pytest.raises(ContributionRefused, match="watchers cannot contribute"):
        engine.apply(contribute("w", 1))
    with pytest.raises(ContributionRefused, match="hosts cannot contribute"):
        engine.apply(events.Whispered(participant="h", cid=1, text="hello"))
    with pytest.raises(EngineError) as stranger:
        engine.apply(contribute("nobody", 1))
    assert not isinstance(stranger.value, ContributionRefused)  # a bug, not a dream rule


def test_engine_errors_belong_to_the_one_error_tree() -> None:
    assert issubclass(ContributionRefused, EngineError)
    assert issubclass(EngineError, DreamcommonsError)


def test_wakers_weigh_less_than_dreamers() -> None:
    engine = engine_with(*[f"p{i}" for i in range(10)])
    for i in range(10):
        engine.apply(contribute(f"p{i}", 1, motif=MOTIFS[i]))
    engine.apply(events.ParticipantJoined(participant="d", name="D", role="dreamer"))
    engine.apply(events.ParticipantJoined(participant="w", name="W", role="waker"))
    engine.apply(contribute("d", 1, motif="star"))
    engine.apply(contribute("w", 1, motif="mirror"))
    engine.tick(0.1)
    ratio = weight(engine, "mirror") / weight(engine, "star")
    assert ratio == pytest.approx(VENUE.role_weights.waker / VENUE.role_weights.dreamer, rel=0.01)


# --- properties -----------------------------------------------------------------------------

participants = st.sampled_from([f"p{i}" for i in range(8)])
contributions = st.builds(
    lambda pid, motif, intensity, valence, arousal: (pid, motif, intensity, valence, arousal),
    participants,
    st.sampled_from(MOTIFS),
    st.floats(0.0, 1.0),
    st.floats(-1.0, 1.0),
    st.floats(0.0, 1.0),
)
steps = st.lists(st.lists(contributions, max_size=30), min_size=1, max_size=20)


Batch = list[tuple[str, str, float, float, float]]


def ticked(batches: list[Batch]) -> Iterator[tuple[DreamEngine, tuple[DreamscapeState, Delta]]]:
    """Feed each batch of contributions to one engine, ticking after each batch."""
    engine = engine_with(*[f"p{i}" for i in range(8)])
    cid = 0
    for tick, batch in enumerate(batches):
        for pid, motif, intensity, valence, arousal in batch:
            cid += 1
            event: events.Event = events.MotifContributed(
                participant=pid,
                cid=cid,
                motif=motif,
                intensity=intensity,
                valence=valence,
                arousal=arousal,
            )
            engine.apply(event)
        yield engine, engine.tick(tick * 0.1)


def run(batches: list[Batch]) -> list[tuple[DreamscapeState, Delta]]:
    return [output for _, output in ticked(batches)]


@settings(max_examples=60, deadline=None)
@given(steps)
def test_the_same_events_give_the_same_states(batches: list[Batch]) -> None:
    assert run(batches) == run(batches)


@settings(max_examples=80, deadline=None)
@given(steps)
def test_equity_cap_holds_for_any_sequence(batches: list[Batch]) -> None:
    for engine, _ in ticked(batches):
        shares = engine.shares()
        if shares:
            bound = max(VENUE.equity_cap, 1.0 / len(shares))
            assert max(shares.values()) <= bound + 1e-9
            assert sum(shares.values()) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_each_delta_carries_the_previous_state_to_the_next(batches: list[Batch]) -> None:
    outputs = run(batches)
    engine = engine_with()
    previous = engine.state
    for state, delta in outputs:
        assert previous.apply(delta) == state
        assert state.seq == delta.seq
        previous = state
    for state, _ in outputs:
        assert len(state.motifs) <= VENUE.max_motifs


def rem_and_awake(*, show_stage: bool) -> DreamEngine:
    """Ten dreamers, then one sleeper in REM and one awake, each raising one motif."""
    engine = engine_with(*[f"p{i}" for i in range(10)])
    for i in range(10):
        engine.apply(contribute(f"p{i}", 1, motif=MOTIFS[i]))
    engine.apply(events.ParticipantJoined(participant="rem", name="R", role="dreamer"))
    engine.apply(events.ParticipantJoined(participant="awake", name="A", role="dreamer"))
    for pid, stage in (("rem", 4), ("awake", 0)):
        engine.apply(events.ShareChanged(participant=pid, level=None, show_stage=show_stage))
        engine.apply(
            events.SleeperUpdated(
                participant=pid, stage=stage, stress=0.0, breath_phase=None, breath_hz=None, t=0
            )
        )
    engine.apply(contribute("rem", 1, motif="star"))
    engine.apply(contribute("awake", 1, motif="mirror"))
    engine.tick(0.1)
    return engine


def test_a_sleeper_in_rem_who_shows_it_shapes_the_dream_more_than_one_awake() -> None:
    engine = rem_and_awake(show_stage=True)
    ratio = weight(engine, "mirror") / weight(engine, "star")
    stages = VENUE.stage_weights
    assert ratio == pytest.approx(stages.wake / stages.rem, rel=0.01)


def test_a_hidden_stage_weighs_as_the_role_does() -> None:
    engine = rem_and_awake(show_stage=False)
    assert weight(engine, "mirror") == weight(engine, "star") == weight(engine, MOTIFS[0])


def test_device_counts_show_in_the_participant_view() -> None:
    engine = engine_with("p1")
    engine.apply(events.DevicesChanged(participant="p1", online=2))
    state, delta = engine.tick(0.1)
    assert state.participants[0].devices == 2
    assert delta.participants[0].devices == 2


def test_a_share_that_sets_what_is_set_changes_nothing() -> None:
    engine = engine_with("lyra")
    assert not engine.share_changes(events.ShareChanged(participant="lyra", level=1.0))
    assert not engine.share_changes(
        events.ShareChanged(participant="lyra", level=3.0)
    )  # clamped: 1
    assert not engine.share_changes(
        events.ShareChanged(participant="lyra", level=None, show_stage=False)
    )
    assert not engine.share_changes(events.ShareChanged(participant="lyra", level=None))
    assert engine.share_changes(events.ShareChanged(participant="lyra", level=0.5))
    engine.apply(events.ShareChanged(participant="lyra", level=0.5, show_stage=True))
    assert not engine.share_changes(
        events.ShareChanged(participant="lyra", level=0.5, show_stage=True)
    )
    assert engine.share_changes(
        events.ShareChanged(participant="lyra", level=None, show_stage=False)
    )
    assert engine.share_changes(
        events.ShareChanged(participant="nobody", level=0.5)
    )  # to be refused
