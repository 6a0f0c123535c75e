"""An engine's snapshot: plain data that brings back the whole engine, which then goes on
exactly as the original does, event for event, tick for tick."""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from dreamcommons.contracts.venues import (
    CoherenceRules,
    HarmonizeRules,
    PhaseDurations,
    VenuePreset,
    load_venue,
)
from dreamcommons.server.engine import (
    DreamEngine,
    EngineError,
    SnapshotError,
    SnapshotVersionError,
    engine_from_snapshot,
    engine_to_snapshot,
    events,
)
from dreamcommons.server.engine.snapshot import FORMAT

COMMONS = load_venue("sleep-commons")
# A venue where everything happens within seconds: quick decay (and a rebase of the store's
# units after 12.8 s), few motifs and whispers, short phases, fractures that harmonize alone.
BRISK = COMMONS.model_copy(
    update={
        "half_life_s": 0.05,
        "max_motifs": 4,
        "max_whispers": 3,
        "coherence": CoherenceRules(
            window_s=2.0, fracture_below=0.4, heal_above=0.6, min_sleepers=2, max_regions=3
        ),
        "harmonize": HarmonizeRules(auto=True, pace_hz=0.1, hold_s=0.5),
        "phases": PhaseDurations(gathering=1.0, descent=1.0, dream=3.0, awakening=1.0),
    }
)
PIDS = [f"p{i}" for i in range(5)]
MOTIFS = [m.name for m in COMMONS.motifs[:6]] + ["unlisted"]


def pack(data: object) -> Any:
    """Through msgpack and back, as the journal stores it."""
    blob = msgpack.packb(data, use_bin_type=True, unicode_errors="surrogatepass")
    return msgpack.unpackb(blob, raw=False, unicode_errors="surrogatepass")


# What an engine keeps to spare a walk of everyone each tick; a restored one makes it again.
DERIVED = ("_shared", "_reshared", "changed")


def internals(value: object) -> object:
    """Everything an engine holds, its order included, as comparable plain values."""
    if isinstance(value, float):
        return ("float", value.hex()) if math.isfinite(value) else ("float", repr(value))
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, BaseModel):
        return (type(value).__name__, value.model_dump())
    if isinstance(value, dict):
        return [(k, internals(v)) for k, v in value.items()]
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, deque):
        return ("deque", value.maxlen, [internals(v) for v in value])
    if isinstance(value, list | tuple):
        return [internals(v) for v in value]
    if dataclasses.is_dataclass(value):
        fields = dataclasses.fields(value)
        return (type(value).__name__, [(f.name, internals(getattr(value, f.name))) for f in fields])
    attrs = dict(vars(value))
    attrs.pop("venue", None)  # the preset, the session's own: not part of a snapshot
    if "_views" in attrs:  # filled in set order, read by id only: its order means nothing
        attrs["_views"] = dict(sorted(attrs["_views"].items()))
    if "levels" in attrs:  # the store's, read by id only
        attrs["levels"] = dict(sorted(attrs["levels"].items()))
    for kept in DERIVED:  # made again from the rest (test_the_kept_totals_are_a_walks)
        attrs.pop(kept, None)
    return (type(value).__name__, [(k, internals(v)) for k, v in attrs.items()])


engine_events = st.one_of(
    st.builds(
        events.ParticipantJoined,
        st.sampled_from(PIDS),
        st.sampled_from(["Lyra", "Kai", "Mira\udcff"]),
        st.sampled_from(["dreamer", "dreamer", "waker", "watcher"]),
    ),
    st.builds(events.PresenceChanged, st.sampled_from(PIDS), st.booleans()),
    st.builds(events.ParticipantLeft, st.sampled_from(PIDS)),
    st.builds(
        events.MotifContributed,
        st.sampled_from(PIDS),
        st.integers(0, 1000),
        st.sampled_from(MOTIFS),
        st.floats(0.0, 1.0),
        st.floats(-1.0, 1.0),
        st.floats(0.0, 1.0),
        st.booleans(),
    ),
    st.builds(events.Whispered, st.sampled_from(PIDS), st.integers(0, 1000), st.text(max_size=8)),
    st.builds(
        events.SleeperUpdated,
        st.sampled_from(PIDS),
        st.one_of(st.none(), st.integers(0, 4)),
        st.floats(0.0, 1.0),
        st.one_of(st.none(), st.floats(0.0, 2 * math.pi)),
        st.one_of(st.none(), st.floats(0.05, 0.5)),
        st.floats(0.0, 30.0),
    ),
    st.builds(events.DevicesChanged, st.sampled_from(PIDS), st.integers(0, 3)),
    st.builds(
        events.ShareChanged,
        st.sampled_from(PIDS),
        st.one_of(st.none(), st.floats(0.0, 1.0)),
        st.one_of(st.none(), st.booleans()),
    ),
    st.builds(
        events.HostCommanded,
        st.sampled_from(["start", "pause", "resume", "advance", "end", "harmonize", "sing"]),
    ),
)
# A step: events, then a tick after ``dt`` seconds (None: no tick, the events wait).
steps = st.lists(
    st.tuples(st.lists(engine_events, max_size=8), st.one_of(st.none(), st.floats(0.0, 2.0))),
    max_size=25,
)
Program = list[tuple[list[events.Event], float | None]]
JOINS: list[events.Event] = [
    events.ParticipantJoined(pid, pid.upper(), "dreamer") for pid in PIDS[:3]
]


def play(engine: DreamEngine, program: Program) -> list[object]:
    """Run a program; everything the engine said (refusals, states, deltas, intents)."""
    said: list[object] = []
    for batch, dt in program:
        for event in batch:
            try:
                engine.apply(event)
            except EngineError as exc:
                said.append(("refused", str(exc)))
        if dt is None:
            continue
        said.append(engine.tick(engine.state.t + dt))
        said.append(engine.drain_intents())
    return said


def ids_not_reused(programs: list[Program]) -> list[Program]:
    """The programs without joins under the id of someone who left: a session never gives an
    id twice (``p1``, ``p2``... counted on), and the engine relies on that."""
    gone: set[str] = set()
    kept = []
    for program in programs:
        steps = []
        for batch, dt in program:
            admitted = []
            for event in batch:
                if isinstance(event, events.ParticipantJoined) and event.participant in gone:
                    continue
                if isinstance(event, events.ParticipantLeft):
                    gone.add(event.participant)
                admitted.append(event)
            steps.append((admitted, dt))
        kept.append(steps)
    return kept


def restored(engine: DreamEngine) -> DreamEngine:
    return engine_from_snapshot(pack(engine_to_snapshot(engine)), engine.venue)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([COMMONS, BRISK]), steps, steps, st.lists(engine_events, max_size=4))
def test_a_restored_engine_goes_on_exactly_as_the_original(
    venue: VenuePreset,
    before: Program,
    after: Program,
    waiting: list[events.Event],
) -> None:
    original = DreamEngine(venue, "commons")
    start = [(JOINS, 0.1), *before, (waiting, None)]  # ``waiting``: not ticked yet
    start, after = ids_not_reused([start, after])
    play(original, start)
    copy = restored(original)
    assert internals(copy) == internals(original)
    snapshot = pack(engine_to_snapshot(original))
    assert pack(engine_to_snapshot(copy)) == snapshot
    assert play(copy, after) == play(original, after)
    assert internals(copy) == internals(original)


def busy_engine(venue: VenuePreset = BRISK) -> DreamEngine:
    """An engine that has been through a bit of everything: fracture, pacing, whispers."""
    engine = DreamEngine(venue, "commons")
    program: Program = [(JOINS, 0.1)]
    for n in range(60):
        batch: list[events.Event] = [
            events.MotifContributed(PIDS[n % 3], n, MOTIFS[n % len(MOTIFS)], 0.8, 0.3, 0.4)
        ]
        if n % 5 == 0:
            batch += [
                events.SleeperUpdated(pid, 2, 0.5, 2.1 * i, 0.25, n * 0.1)
                for i, pid in enumerate(PIDS[:3])
            ]
            batch.append(events.DevicesChanged(PIDS[n % 3], 1))
        if n == 7:
            batch.append(events.Whispered("p0", 999, "the cocoons pulse together"))
        if n == 11:
            batch.append(events.ShareChanged("p1", 0.4, show_stage=True))
        if n == 40:
            batch.append(events.ParticipantLeft("p2"))
        program.append((batch, 0.1))
    play(engine, program)
    return engine


def test_a_busy_engine_is_restored_whole() -> None:
    engine = busy_engine()
    assert engine.counters.fractures > 0
    assert engine.counters.harmonizations > 0
    copy = restored(engine)
    assert internals(copy) == internals(engine)
    more: Program = [
        ([events.MotifContributed("p0", 2000 + n, "moon", 0.6, 0.2, 0.3)], 0.1) for n in range(30)
    ]
    assert play(copy, more) == play(engine, more)


def test_a_snapshot_is_plain_data_with_its_format() -> None:
    snapshot = engine_to_snapshot(busy_engine())
    assert snapshot["format"] == FORMAT == 3
    assert snapshot["venue"] == BRISK.name

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, bool | int | float | str)

    assert plain(snapshot)


@pytest.mark.parametrize("found", [1, 4, 0, "2", None, True])  # 1: the v1 wire's views
def test_a_format_this_code_does_not_read_is_refused_by_name(found: object) -> None:
    snapshot = engine_to_snapshot(busy_engine())
    snapshot["format"] = found
    with pytest.raises(SnapshotVersionError) as refused:
        engine_from_snapshot(snapshot, BRISK)
    assert refused.value.found == found
    assert "format" in str(refused.value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda snapshot: snapshot.pop(key)


@pytest.mark.parametrize(
    "damage",
    [
        _drop("participants"),
        _drop("state"),
        lambda s: s.update(now="soon"),
        lambda s: s["motifs"]["motifs"][0].update(total=[1.0]),
        lambda s: s["motifs"]["motifs"][0].pop("shared"),  # format 3 without its sum
        lambda s: s["participants"][0].update(role="king"),
        lambda s: s["phases"].update(phase="dusk"),
        lambda s: s["state"].update(seq="many"),
        lambda s: s.update(venue="elsewhere"),
        lambda s: s["pending"].append({"kind": "Sneezed"}),
    ],
)
def test_damaged_snapshots_are_refused(damage: Callable[[dict[str, Any]], None]) -> None:
    snapshot = pack(engine_to_snapshot(busy_engine()))
    damage(snapshot)
    with pytest.raises(SnapshotError):
        engine_from_snapshot(snapshot, BRISK)


def test_a_snapshot_that_is_not_a_map_is_refused() -> None:
    with pytest.raises(SnapshotError) as refused:
        engine_from_snapshot([1, 2, 3], BRISK)
    assert not isinstance(refused.value, SnapshotVersionError)


# A share level changed on its own, by someone whose total stays as it was; then contributions
# at that level, and a level changed back.
LOWERED: Program = [
    ([events.MotifContributed("p0", 1, "moon", 0.9, 0.1, 0.2)], 0.1),
    ([events.ShareChanged("p0", 0.5, None)], 0.1),
    ([events.MotifContributed("p0", 2, "moon", 0.4, -0.3, 0.7)], 0.1),
    ([events.ShareChanged("p0", 1.0, None), events.ShareChanged("p1", 0.0, None)], 0.1),
]


LOWER_START = COMMONS.model_copy(update={"default_share": 0.8})


def played(venue: VenuePreset, program: Program) -> DreamEngine:
    """An engine of ``venue`` that played the three joins, then ``program``."""
    engine = DreamEngine(venue, "commons")
    (program,) = ids_not_reused([[(JOINS, 0.1), *program]])
    play(engine, program)
    return engine


def about(sums: list[float], total: list[float]) -> object:
    """``sums`` to within the rounding of sums kept over a night (relative to ``total``)."""
    return pytest.approx(sums, rel=1e-9, abs=1e-9 * max(1.0, *(abs(x) for x in total)))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([COMMONS, BRISK, LOWER_START]), steps)
@example(COMMONS, LOWERED)
def test_what_the_engine_keeps_is_what_a_walk_of_everyone_finds(
    venue: VenuePreset, program: Program
) -> None:
    engine = played(venue, program)
    kept = dict(engine._shared_totals())
    engine._shared = None  # as a restored engine has it
    assert kept == engine._shared_totals()
    store = engine._store
    assert store.levels == {
        pid: p.share for pid, p in engine._participants.items() if p.share != 1.0
    }
    for motif in store._motifs.values():
        summed = [
            sum(store.levels.get(pid, 1.0) * part[i] for pid, part in motif.parts.items())
            for i in range(4)
        ]
        assert motif.shared == about(summed, motif.total)


def as_format_2(engine: DreamEngine) -> object:
    """The engine's snapshot as format 2 had it: no motif's ``shared`` sum."""
    data = engine_to_snapshot(engine)
    data["format"] = 2
    for motif in data["motifs"]["motifs"]:
        del motif["shared"]
    return pack(data)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([COMMONS, LOWER_START]), steps)
@example(COMMONS, LOWERED)
def test_a_format_2_snapshot_is_restored_with_its_shared_sums_made_again(
    venue: VenuePreset, program: Program
) -> None:
    original = played(venue, program)
    copy = engine_from_snapshot(as_format_2(original), venue)
    for name, motif in original._store._motifs.items():
        assert copy._store._motifs[name].shared == about(motif.shared, motif.total)
    levelled = any(
        isinstance(event, events.ShareChanged) and event.level is not None
        for batch, _ in program
        for event in batch
    )
    if venue.default_share == 1.0 and not levelled:  # every shared sum is its total
        assert internals(copy) == internals(original)
