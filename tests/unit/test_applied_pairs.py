"""A delta's ``applied`` on the wire: pairs of a step (or an id) and a cid, read back exactly."""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.wire_sizes import field_sizes
from dreamcommons.contracts.errors import ErrorCode, ProtocolError
from dreamcommons.contracts.protocol import (
    Delta,
    Encoding,
    applied_map,
    applied_pairs,
    decode_server,
    encode,
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


def test_a_contributor_costs_about_two_bytes_in_a_room_of_2000() -> None:
    # 200 contributors a tick (each once a second, ten ticks a second), ids p1..p7d0
    assert field_sizes(2000)["applied"] < 3 * 200


def test_the_example_of_the_protocol_page_reads_as_it_says() -> None:
    pairs = [1, 4, 15, 2, 1983, 9, "alice", 3]  # docs/protocol.md, Reading `applied`
    assert applied_map(pairs) == {"p1": 4, "p10": 2, "p7cf": 9, "alice": 3}
    assert applied_pairs(applied_map(pairs)) == pairs
