"""The journal's event codec: every event kind round-trips exactly; damage is reported."""

from __future__ import annotations

import math
import typing

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.server.engine import events
from dreamcommons.server.journal import (
    Erased,
    JournalCorrupt,
    Tick,
    decode_event,
    encode_event,
    kind_of,
)
from dreamcommons.server.journal.codec import EVENT_CLASSES, JournalEvent

texts = st.text(max_size=40)
pids = st.from_regex(r"p[0-9]{1,4}", fullmatch=True)
floats = st.floats(allow_nan=False, width=64)
units = st.floats(min_value=0.0, max_value=1.0)
cids = st.integers(min_value=0, max_value=2**53)
roles = st.sampled_from(["dreamer", "waker", "watcher", "host"])

journal_events: st.SearchStrategy[JournalEvent] = st.one_of(
    st.builds(events.ParticipantJoined, participant=pids, name=texts, role=roles),
    st.builds(events.PresenceChanged, participant=pids, present=st.booleans()),
    st.builds(events.ParticipantLeft, participant=pids),
    st.builds(
        events.MotifContributed,
        participant=pids,
        cid=cids,
        motif=texts,
        intensity=units,
        valence=st.floats(min_value=-1.0, max_value=1.0),
        arousal=units,
        private=st.booleans(),
    ),
    st.builds(events.Whispered, participant=pids, cid=cids, text=texts),
    st.builds(
        events.SleeperUpdated,
        participant=pids,
        stage=st.none() | st.integers(min_value=0, max_value=4),
        stress=floats,
        breath_phase=st.none() | floats,
        breath_hz=st.none() | floats,
        t=floats,
    ),
    st.builds(
        events.DevicesChanged, participant=pids, online=st.integers(min_value=0, max_value=99)
    ),
    st.builds(events.ShareChanged, participant=pids, level=units),
    st.builds(events.HostCommanded, action=texts),
    st.builds(Tick, t=floats),
    st.builds(Erased, participant=pids, kind=st.sampled_from(["Whispered", "SleeperUpdated"])),
)


@given(journal_events)
def test_every_event_round_trips_exactly(event: JournalEvent) -> None:
    decoded = decode_event(kind_of(event), encode_event(event))
    assert decoded == event
    assert type(decoded) is type(event)


@given(st.floats(width=64))
def test_floats_round_trip_bit_for_bit(t: float) -> None:
    decoded = decode_event("Tick", encode_event(Tick(t)))
    assert isinstance(decoded, Tick)
    assert decoded.t == t or (math.isnan(t) and math.isnan(decoded.t))
    assert math.copysign(1.0, decoded.t) == math.copysign(1.0, t)


def test_the_codec_knows_every_engine_event() -> None:
    assert set(typing.get_args(events.Event)) <= set(EVENT_CLASSES)
    assert {Tick, Erased} <= set(EVENT_CLASSES)


def test_kind_is_the_class_name() -> None:
    assert kind_of(Tick(1.5)) == "Tick"
    assert kind_of(events.ParticipantLeft("p1")) == "ParticipantLeft"


def test_lone_surrogates_in_text_survive() -> None:
    event = events.Whispered(participant="p1", cid=1, text="moon \ud800 tide")
    assert decode_event("Whispered", encode_event(event)) == event


def test_unknown_kinds_are_corrupt() -> None:
    with pytest.raises(JournalCorrupt, match="unknown event kind 'Teleported'"):
        decode_event("Teleported", encode_event(Tick(1.0)))


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("Tick", {}),  # a missing field
        ("Tick", {"t": 1.0, "speed": 2}),  # an unknown field
        ("Tick", {"t": "soon"}),  # a wrong type
        ("ParticipantLeft", {"participant": 7}),
        ("PresenceChanged", {"participant": "p1", "present": 1}),
        ("DevicesChanged", {"participant": "p1", "online": True}),  # a bool is not an int
        ("SleeperUpdated", {"participant": "p1", "stage": 2.5, "stress": 0.0}),
        ("Tick", [1.0]),  # not a map
    ],
)
def test_damaged_payloads_are_corrupt(kind: str, body: object) -> None:
    with pytest.raises(JournalCorrupt):
        decode_event(kind, msgpack.packb(body))


def test_bytes_that_are_not_msgpack_are_corrupt() -> None:
    with pytest.raises(JournalCorrupt, match="not valid msgpack"):
        decode_event("Tick", b"\xc1")


def test_an_int_where_a_float_is_expected_is_accepted() -> None:
    assert decode_event("Tick", msgpack.packb({"t": 3})) == Tick(3.0)


def test_encoding_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a journal event"):
        encode_event("tick")  # type: ignore[arg-type]
