"""The compact parts of the wire, read back exactly: ``applied`` as pairs of a step (or an id)
and a cid, a region's participants as steps, and in msgpack the motif updates as arrays."""

from __future__ import annotations

import json
from collections.abc import Callable

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.wire_sizes import field_sizes
from dreamcommons.contracts.errors import ErrorCode, ProtocolError
from dreamcommons.contracts.protocol import (
    MOTIF_UPDATE_FIELDS,
    Delta,
    DreamscapeState,
    Encoding,
    MotifUpdate,
    RegionView,
    SceneView,
    Snapshot,
    _applied_map_pair_by_pair,
    applied_cid,
    applied_map,
    applied_pairs,
    decode_server,
    encode,
    id_steps,
    ids_of,
)

numbered = st.integers(min_value=0, max_value=2**53).map(lambda n: f"p{n:x}")
other = st.text(min_size=1, max_size=8)  # ids a journal may hold: "alice", "p01", "P1"
cids = st.integers(min_value=0, max_value=2**53)


@given(st.dictionaries(numbered | other, cids, max_size=40))
def test_applied_reads_back_as_it_was_in_both_encodings(applied: dict[str, int]) -> None:
    delta = Delta(seq=3, t=0.3, applied=applied)
    for encoding in Encoding:
        assert decode_server(encode(delta, encoding), encoding) == delta
    assert applied_map(applied_pairs(applied)) == applied


def test_numbered_ids_go_by_their_steps_and_the_others_by_name() -> None:
    pairs = applied_pairs({"p7cf": 3, "alice": 5, "p1": 2, "p10": 9, "p01": 4})
    assert pairs == [1, 2, 15, 9, 1983, 3, "alice", 5, "p01", 4]
    frame = json.loads(encode(Delta(seq=1, t=0.1, applied={"p1": 1}), Encoding.JSON))
    assert frame["applied"] == [1, 1]


@pytest.mark.parametrize(
    ("applied", "says"),
    [
        ([1], "odd number"),
        ([1, "x"], "each cid"),
        ([1, True], "each cid"),
        ([-1, 2], "each key"),
        ([1.5, 2], "each key"),
        ([2**53, 1, 1, 1], "each key"),
        ("p1", "list of pairs"),
    ],
)
def test_malformed_pairs_are_an_invalid_field(applied: object, says: str) -> None:
    frame = msgpack.packb({"type": "delta", "seq": 1, "t": 0.1, "applied": applied})
    with pytest.raises(ProtocolError) as refused:
        decode_server(frame, Encoding.MSGPACK)
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert refused.value.message.startswith("applied: ")
    assert says in refused.value.message


# what a frame's ``applied`` may hold, valid or not: steps, ids, and what is neither
items = st.one_of(
    st.integers(min_value=-2, max_value=40),
    st.integers(min_value=2**53 - 2, max_value=2**53 + 1),
    st.sampled_from(["p1", "p10", "alice", True, False, 1.0, None]),
)


def _read(read: Callable[[], object]) -> object:
    """What ``read`` gives, or the refusal it raises, so that two readings compare."""
    try:
        return read()
    except ValueError as error:
        return ("refused", str(error))


@given(st.lists(items, max_size=12), st.sampled_from(["p1", "p3", "p10", "p2a", "alice", "x"]))
def test_the_quick_readings_of_applied_agree_with_reading_it_pair_by_pair(
    pairs: list[object], pid: str
) -> None:
    by_pair = _read(lambda: _applied_map_pair_by_pair(pairs))
    assert _read(lambda: applied_map(pairs)) == by_pair
    mine = by_pair.get(pid) if isinstance(by_pair, dict) else by_pair
    assert _read(lambda: applied_cid(pairs, pid)) == mine


@given(st.dictionaries(numbered, cids, max_size=40), numbered)
def test_a_client_finds_its_own_cid_as_the_map_has_it(applied: dict[str, int], pid: str) -> None:
    pairs = applied_pairs(applied)
    for someone in [*applied, pid]:
        assert applied_cid(pairs, someone) == applied.get(someone)


def test_a_contributor_costs_about_two_bytes_in_a_room_of_2000() -> None:
    # 200 contributors a tick (each once a second, ten ticks a second), ids p1..p7d0
    assert field_sizes(2000)["applied"] < 3 * 200


def test_the_example_of_the_protocol_page_reads_as_it_says() -> None:
    pairs = [1, 4, 15, 2, 1983, 9, "alice", 3]  # docs/protocol.md, Reading `applied`
    assert applied_map(pairs) == {"p1": 4, "p10": 2, "p7cf": 9, "alice": 3}
    assert applied_pairs(applied_map(pairs)) == pairs


units = st.none() | st.floats(min_value=0.0, max_value=1.0)
updates = st.builds(
    MotifUpdate,
    name=st.from_regex(r"[a-z][a-z0-9-]{0,31}", fullmatch=True),
    colour=st.none() | st.from_regex(r"#[0-9a-f]{6}", fullmatch=True),
    weight=st.none() | st.floats(min_value=0.0, max_value=1e6),
    intensity=units,
    valence=st.none() | st.floats(min_value=-1.0, max_value=1.0),
    arousal=units,
    x=units,
    y=units,
    phase=units,
)


@given(st.lists(updates, max_size=24))
def test_motif_updates_read_back_as_they_were_in_both_encodings(
    motifs: list[MotifUpdate],
) -> None:
    delta = Delta(seq=9, t=0.9, motifs=tuple(motifs))
    for encoding in Encoding:
        assert decode_server(encode(delta, encoding), encoding) == delta


def test_a_msgpack_update_is_its_values_in_order_without_the_nils_at_its_end() -> None:
    assert set(MOTIF_UPDATE_FIELDS) == set(MotifUpdate.model_fields)
    delta = Delta(
        seq=2,
        t=42.0,
        motifs=(
            MotifUpdate(name="moon", weight=0.6391),
            MotifUpdate(name="ash", valence=0.2),
            MotifUpdate(name="fern", colour="#aabbcc"),
        ),
    )
    frame = msgpack.unpackb(encode(delta, Encoding.MSGPACK))
    assert frame["motifs"] == [
        ["moon", 0.6391],
        ["ash", None, None, 0.2],
        ["fern", None, None, None, None, None, None, None, "#aabbcc"],
    ]
    as_json = json.loads(encode(delta, Encoding.JSON))
    assert as_json["motifs"][0] == {"name": "moon", "weight": 0.6391}
    # a msgpack delta whose updates are maps, as JSON's are, reads the same
    keyed = msgpack.packb({**frame, "motifs": as_json["motifs"]})
    assert decode_server(keyed, Encoding.MSGPACK) == delta


@pytest.mark.parametrize(
    ("update", "says"),
    [
        (["moon", 0.5, 0.5, 0.1, 0.2, 0.3, 0.4, 0.5, "#aabbcc", 1], "motifs.0: a motif update has"),
        ([None, 0.5], "motifs.0.name"),
        (["moon", -1.0], "motifs.0.weight"),
        (["moon", None, None, None, None, None, None, None, "red"], "motifs.0.colour"),
        (5, "motifs.0"),
    ],
)
def test_a_malformed_msgpack_update_is_an_invalid_field(update: object, says: str) -> None:
    frame = msgpack.packb({"type": "delta", "seq": 1, "t": 0.1, "motifs": [update]})
    with pytest.raises(ProtocolError) as refused:
        decode_server(frame, Encoding.MSGPACK)
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert refused.value.message.startswith(says)


@given(st.lists(numbered | other, max_size=40, unique=True))
def test_a_regions_participants_read_back_in_order_of_their_ids(ids: list[str]) -> None:
    region = RegionView(id=0, x=0.5, y=0.5, participants=tuple(ids), motifs=())
    in_order = region.participants
    assert sorted(in_order) == sorted(ids)
    state = DreamscapeState(session="s", venue="v", scene=SceneView(regions=(region,)))
    for encoding in Encoding:
        held = decode_server(encode(Snapshot(state=state), encoding), encoding)
        assert isinstance(held, Snapshot)
        assert held.state.scene.regions[0].participants == in_order


def test_a_thousand_sleepers_are_a_byte_each() -> None:
    ids = [f"p{n:x}" for n in range(1, 1001)]
    assert ids_of([1, 1, 14, "alice"]) == ("p1", "p2", "p10", "alice")  # docs/protocol.md
    assert ids_of(["p2", "p1"]) == ("p1", "p2")  # plain ids read as themselves, in order
    assert id_steps(ids) == [1] * 1000
    assert len(msgpack.packb(id_steps(ids))) < len(msgpack.packb(ids)) / 4


@pytest.mark.parametrize("steps", [[-1], [1.5], [True], "p1", [None]])
def test_malformed_region_participants_are_an_invalid_field(steps: object) -> None:
    region = {"id": 0, "x": 0.5, "y": 0.5, "participants": steps, "motifs": []}
    frame = {"type": "delta", "seq": 1, "t": 0.1, "scene": {"regions": [region]}}
    with pytest.raises(ProtocolError) as refused:
        decode_server(msgpack.packb(frame), Encoding.MSGPACK)
    assert refused.value.code is ErrorCode.INVALID_FIELD
    assert refused.value.message.startswith("scene.regions.0.participants: ")
