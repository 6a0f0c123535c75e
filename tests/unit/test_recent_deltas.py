"""The ring of recent delta frames: what it holds, what it evicts, and the gaps it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.server.recent_deltas import RecentDeltas


def frame(seq: int) -> bytes:
    return f"delta {seq}".encode()


def filled(capacity: int, seqs: range, encoding: str = "msgpack") -> RecentDeltas[str]:
    ring: RecentDeltas[str] = RecentDeltas(capacity)
    for seq in seqs:
        ring.record(encoding, seq, frame(seq))
    return ring


def test_it_replays_every_frame_after_the_seq_held_in_order() -> None:
    ring = filled(10, range(1, 8))
    assert ring.after("msgpack", 4, 7) == [frame(5), frame(6), frame(7)]
    assert ring.after("msgpack", 0, 7) == [frame(seq) for seq in range(1, 8)]


def test_nothing_missed_is_an_empty_replay_even_with_nothing_held() -> None:
    assert filled(10, range(1, 4)).after("msgpack", 3, 3) == []
    assert RecentDeltas[str](10).after("json", 3, 3) == []


def test_a_seq_in_the_future_is_not_held() -> None:
    assert filled(10, range(1, 8)).after("msgpack", 9, 7) is None


def test_the_oldest_frames_are_evicted_past_the_capacity() -> None:
    ring = filled(5, range(1, 21))
    assert ring.held("msgpack") == (16, 20)
    assert ring.after("msgpack", 15, 20) == [frame(seq) for seq in range(16, 21)]
    assert ring.after("msgpack", 14, 20) is None  # delta 15 is gone


def test_a_gap_starts_the_run_anew() -> None:
    ring = filled(10, range(1, 6))
    ring.record("msgpack", 8, frame(8))  # nobody listened in this encoding for 6 and 7
    ring.record("msgpack", 9, frame(9))
    assert ring.held("msgpack") == (8, 9)
    assert ring.after("msgpack", 4, 9) is None
    assert ring.after("msgpack", 7, 9) == [frame(8), frame(9)]


def test_a_ring_that_stopped_short_of_the_newest_delta_holds_nothing_up_to_it() -> None:
    ring = filled(10, range(1, 6))  # the newest delta, 6, went out in another encoding only
    assert ring.after("msgpack", 3, 6) is None


def test_each_encoding_holds_its_own_frames() -> None:
    ring = filled(10, range(1, 6), "msgpack")
    for seq in range(4, 6):
        ring.record("json", seq, f"json {seq}")
    assert ring.after("json", 3, 5) == ["json 4", "json 5"]
    assert ring.after("json", 2, 5) is None
    assert ring.after("msgpack", 2, 5) == [frame(3), frame(4), frame(5)]


def test_a_ring_of_no_frames_holds_none() -> None:
    ring = filled(0, range(1, 6))
    assert ring.held("msgpack") is None
    assert ring.after("msgpack", 4, 5) is None
    with pytest.raises(ValueError, match="ring"):
        RecentDeltas[str](-1)


@given(
    capacity=st.integers(min_value=1, max_value=12),
    seqs=st.lists(st.integers(min_value=1, max_value=40), max_size=60),
    since=st.integers(min_value=0, max_value=45),
)
def test_a_replay_is_exactly_the_frames_recorded_after_since_or_none(
    capacity: int, seqs: list[int], since: int
) -> None:
    """Against a model: frames recorded with increasing seqs (gaps anywhere); a replay is
    given only when every seq from ``since`` + 1 to the newest was recorded, among the last
    ``capacity`` recorded since the last gap, and it is exactly those frames."""
    ring: RecentDeltas[str] = RecentDeltas(capacity)
    recorded: list[int] = []
    for seq in sorted(set(seqs)):
        ring.record("json", seq, frame(seq))
        recorded.append(seq)
    newest = recorded[-1] if recorded else 0
    run: list[int] = []
    for seq in recorded:
        run = [*run, seq] if run and run[-1] + 1 == seq else [seq]
    run = run[-capacity:]
    wanted = list(range(since + 1, newest + 1))
    replay = ring.after("json", since, newest)
    if since > newest:
        assert replay is None
    elif all(seq in run for seq in wanted):
        assert replay == [frame(seq) for seq in wanted]
    else:
        assert replay is None
