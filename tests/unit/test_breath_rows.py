"""bench.breath_rows: a night of simulated sleepers sends their breath far less often than
their devices report it, and each sleeper's at least once."""

from __future__ import annotations

from bench.breath_rows import breath_rows


def test_breath_rows_are_fewer_than_the_estimates_heard() -> None:
    night = breath_rows(sleepers=3, seconds=60.0)
    assert night.ticks == 600
    assert night.reports >= 3 * 50  # about one estimate a second each
    assert 3 <= night.rows < night.reports / 2
    assert night.row_bytes > 0
