"""The wire-size count of bench.wire_sizes: deltas that carry what changed stay small."""

from __future__ import annotations

from bench.wire_sizes import delta_sizes


def test_a_small_room_sends_what_its_contributions_changed() -> None:
    sizes = delta_sizes(20)
    # two contributions a tick: two motif updates, applied, the mood; not all 24 motifs
    assert 100 < sizes["msgpack"] < 400
    assert sizes["msgpack_float32"] < sizes["msgpack"] < sizes["json"]
