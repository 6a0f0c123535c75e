"""The wire-size count of bench.wire_sizes: deltas that carry what changed stay small."""

from __future__ import annotations

import pytest

from bench.wire_sizes import delta_sizes, field_sizes


def test_a_small_room_sends_what_its_contributions_changed() -> None:
    sizes = delta_sizes(20)
    # two contributions a tick: two motif updates, applied, the mood; not all 24 motifs
    assert 100 < sizes["msgpack"] < 400
    assert sizes["msgpack_float32"] < sizes["msgpack"] < sizes["json"]


def test_the_fields_of_a_delta_add_up_to_its_frame() -> None:
    fields = field_sizes(20)
    assert {"type", "seq", "t", "motifs", "applied"} <= set(fields)
    assert list(fields.values()) == sorted(fields.values(), reverse=True)
    # a frame is a map's one-byte header and its fields
    assert 1 + sum(fields.values()) == pytest.approx(delta_sizes(20)["msgpack"])
