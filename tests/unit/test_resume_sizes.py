"""The count of bench.resume_sizes: what a client that comes back costs, either way."""

from __future__ import annotations

from bench.resume_sizes import resume_sizes


def test_the_replay_grows_with_the_time_away_and_the_state_does_not() -> None:
    sizes = resume_sizes(20, [1.0, 3.0])
    short, long = sizes[1.0], sizes[3.0]
    assert 0 < short["replay_json"] < long["replay_json"]
    assert short["state_json"] == long["state_json"] > 0
    assert short["replay_msgpack"] < short["replay_json"]
