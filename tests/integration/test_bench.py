"""The bench's machinery on a tiny rung: it runs the real workload and measures it whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.commons import Workload, run_row

pytestmark = pytest.mark.integration


async def test_a_tiny_rung_sees_every_contribution_and_every_device(tmp_path: Path) -> None:
    row = await run_row(Workload(participants=6, devices=3, warmup_s=1.0, window_s=2.0), tmp_path)
    assert row["contributions"] >= 6
    assert row["missing"] == 0
    assert row["latency_p99_ms"] is not None
    assert row["observer_p99_ms"] is not None
    assert row["tick_p99_ms"] is not None
    assert row["mqtt_msgs_per_s"] > 0
    assert row["samples_lost"] == 0
    assert row["msgs_per_client_s"] >= 5  # ten deltas a second, whatever the load
