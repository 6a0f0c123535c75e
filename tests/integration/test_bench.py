"""The bench's machinery on a tiny rung: it runs the real workload and measures it whole."""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path
from typing import Any

import pytest

from bench import commons
from bench.cluster import run as run_cluster
from bench.commons import RATIOS, Workload, run_ladder, run_row, table
from bench.contribution_cpu import measure
from bench.ingest import run_rate
from bench.join_commit import commits, hand_off
from bench.seating import SYSTEMS, seat

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


async def test_one_run_measures_both_systems_and_divides_them_side_by_side(
    tmp_path: Path,
) -> None:
    rung = Workload(participants=6, devices=2, warmup_s=1.0, window_s=2.0)
    rows = await run_ladder([rung], tmp_path, ("dreamcommons", "baseline"))
    assert [row["system"] for row in rows] == ["dreamcommons", "baseline"]
    ours, theirs = rows
    assert (ours["devices"], theirs["devices"]) == (2, 0)  # the baseline has no devices
    for row in rows:
        assert row["participants"] == 6
        assert row["missing"] == 0  # the same load generator sees every contribution on both
        assert row["latency_p99_ms"] is not None
        assert row["tick_p99_ms"] is not None
        assert row["seat_s"] > 0
    for key, ratio in RATIOS:
        # a figure too small to read (CPU ticks are 10 ms) gives no ratio rather than a wrong one
        expected = round(ours[key] / theirs[key], 2) if theirs[key] else None
        assert ours[ratio] == expected
        assert ratio not in theirs
    header = table(rows).splitlines()[0]
    assert "| system |" in header
    assert "| p99 × | CPU × | KB/s × | seat × |" in header


async def test_a_rung_without_devices_is_seated_again_and_its_seating_is_the_median(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seat_again = commons.seat_again

    async def seated_slower(*args: Any, **kwargs: Any) -> float:
        return await seat_again(*args, **kwargs) + 10.0  # the median is then one of these

    monkeypatch.setattr(commons, "seat_again", seated_slower)
    rung = Workload(participants=6, devices=0, warmup_s=0.5, window_s=1.0)
    rows = await run_ladder([rung], tmp_path, ("dreamcommons", "baseline"), seatings=3)
    for row in rows:
        first, *again = row["seat_runs_s"]
        assert len(again) == 2
        assert 0 < first < 10 < min(again)
        assert row["seat_s"] == min(again)
    ours, theirs = rows
    assert ours["seat_ratio"] == round(ours["seat_s"] / theirs["seat_s"], 2)
    assert (tmp_path / "server-6-seated2.log").exists()  # a fresh server each time
    assert (tmp_path / "baseline-6-seated3.log").exists()


async def test_the_cluster_bench_spreads_a_rung_over_two_gateways_beside_one_process(
    tmp_path: Path,
) -> None:
    rung = Workload(participants=6, devices=0, warmup_s=1.0, window_s=2.0)
    clustered, single = await run_cluster([6], rung, tmp_path, engines=1, spread=False)
    assert (clustered["system"], single["system"]) == ("cluster", "dreamcommons")
    for row in (clustered, single):
        assert row["missing"] == 0  # half the observer's view came through the other gateway
        assert row["latency_p99_ms"] is not None
    assert set(clustered["cpu_pct"]) == {"nats", "engine-a", "gate-a", "gate-b"}
    assert set(clustered["gateway_us_per_conn_delta_each"]) == {"gate-a", "gate-b"}
    assert clustered["nats_in_msgs_s"] > 0
    assert clustered["nats_out_kb_s"] > 0
    expected = round(clustered["latency_p99_ms"] / single["latency_p99_ms"], 2)
    assert clustered["p99_ratio"] == expected


async def test_the_ingest_bench_counts_every_offered_message(tmp_path: Path) -> None:
    row = await run_rate(rate=200.0, devices=10, seconds=1.0, workdir=tmp_path)
    assert row["offered_msgs_per_s"] == 200
    assert row["not_ingested"] == 0
    assert row["samples_per_s"] == 200  # one sample a batch, none taken for a duplicate
    assert row["samples_lost"] == 0
    assert row["rejected"] == 0


async def test_the_seating_bench_times_every_join_of_each_system(tmp_path: Path) -> None:
    for system in SYSTEMS:
        row = await seat(system, 12, 4, tmp_path)
        assert (row["system"], row["count"], row["parallel"]) == (system, 12, 4)
        assert row["seat_s"] > 0
        assert 0 < row["join_ms_p50"] <= row["join_ms_p90"] <= row["join_ms_max"]
        assert row["ticks"] >= 0
        assert (row["tick_ms"] is None) == (row["ticks"] == 0)


async def test_the_contribution_cpu_bench_measures_contributions_that_were_taken() -> None:
    profile = cProfile.Profile()
    per = await measure(20, 3, profile)
    assert 0 < per < 0.01  # CPU seconds for one contribution, whatever the machine
    calls = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    assert any(name == "contribute" for _, _, name in calls)


async def test_the_join_commit_bench_makes_every_join_durable(tmp_path: Path) -> None:
    row = await commits(5, 3, tmp_path)
    assert (row["commits"], row["joins_per_commit"]) == (5, 3)
    assert row["events_durable"] == 15  # every join's event is on disk, in five commits
    assert min(row["wall_ms"], row["cpu_ms"], row["loop_thread_cpu_ms"]) > 0
    trips = await hand_off(5)
    assert trips["hand_off"] == 5
    assert trips["wall_ms"] > 0
