"""The host's log of joins: a line each while a room fills slowly, a count once it fills fast."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dreamcommons.server.join_log import JoinLog

WINDOW_S = 0.05


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "dreamcommons.server.join_log"]


async def test_each_join_has_its_line_while_a_room_fills_slowly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    joins = JoinLog(lines_per_s=3, window_s=WINDOW_S)
    for n in range(3):
        joins.joined("commons", f"ada{n}", f"p{n}", "dreamer")
    await asyncio.sleep(WINDOW_S * 2)
    joins.joined("commons", "lyra", "p9", "dreamer")
    assert lines(caplog) == [
        "ada0 joined commons as p0 (dreamer)",
        "ada1 joined commons as p1 (dreamer)",
        "ada2 joined commons as p2 (dreamer)",
        "lyra joined commons as p9 (dreamer)",
    ]


async def test_the_joins_past_a_seconds_lines_are_counted_in_one_line_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    joins = JoinLog(lines_per_s=2, window_s=WINDOW_S)
    for n in range(5):
        joins.joined("commons", f"ada{n}", f"p{n}", "dreamer")
    joins.joined("commons", "zara", "p5", "host")  # a host is never only counted
    joins.joined("festival", "lyra", "p0", "dreamer")  # each session has its own second
    assert len(lines(caplog)) == 4
    await asyncio.sleep(WINDOW_S * 2)
    assert lines(caplog) == [
        "ada0 joined commons as p0 (dreamer)",
        "ada1 joined commons as p1 (dreamer)",
        "zara joined commons as p5 (host)",
        "lyra joined festival as p0 (dreamer)",
        "3 more joined commons in that second (the last: ada4 as p4)",
    ]
    joins.joined("commons", "orin", "p6", "dreamer")  # a new second: lines again
    assert lines(caplog)[-1] == "orin joined commons as p6 (dreamer)"
