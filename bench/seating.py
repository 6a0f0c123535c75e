"""How long each join takes while a room is seated: dreamcommons (with its journal, or without)
and the bare baseline, joined the way ``make bench`` joins them.

    python -m bench.seating                          # 2,000, 50 at a time, each system
    python -m bench.seating --count 300 --parallel 1 # one at a time: one join's own cost

Each system runs as a child process pinned to the server's core, and the load generator on
the other, as in ``bench.commons``; its participants (``bench.loadgen``) connect and join
``parallel`` at a time.
One JSON line per system: ``seat_s`` (from the first connect until every welcome is in),
the milliseconds from sending a join to its welcome (``join_ms_p50``, ``p90``, ``max``), and
the server's CPU per join over the seating (``cpu_ms_per_join``, all its threads): steadier
than ``seat_s`` on a noisy machine, and what seating costs whatever the clients do. The ticks
while seating: how many, their mean (``tick_ms``), and their time over the server's CPU
(``tick_share``: near the share of seating's CPU that went to sending every seated client
each tick's delta).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.commons import LOAD_CORE, SESSION, Workload, start_server
from bench.loadgen import BenchParticipant, Latencies, Window
from bench.measure import Scrape, cpu_seconds, percentile, pin
from tests.processes import free_port

SYSTEMS = ("baseline", "journal", "no-journal")


async def seat(system: str, count: int, parallel: int, workdir: Path) -> dict[str, Any]:
    """Seat ``count`` participants on a fresh server of ``system``; the row of figures."""
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        server = await start_server(
            stack,
            Workload(participants=count, devices=0),
            "baseline" if system == "baseline" else "dreamcommons",
            port,
            workdir,
            log_tag="" if system == "baseline" else f"-{system}",
            journal=system == "journal",
        )
        cpu_before = cpu_seconds(server.pid)
        ticks_at_start, tick_s_at_start = _ticks(port)
        loop = asyncio.get_running_loop()
        url = f"ws://127.0.0.1:{port}/{SESSION}"
        gate = asyncio.Semaphore(parallel)
        joins: list[float] = []
        seated: list[BenchParticipant] = []

        async def one(index: int) -> None:
            async with gate:
                _, participant = await loop.create_connection(
                    lambda: BenchParticipant(
                        index, url, SESSION, probe=False, window=Window(), latencies=Latencies()
                    ),
                    "127.0.0.1",
                    port,
                )
                seated.append(participant)
                sent = time.monotonic()
                await participant.join()
                joins.append(time.monotonic() - sent)

        started = time.monotonic()
        try:
            await asyncio.gather(*(one(i) for i in range(count)))
            seat_s = time.monotonic() - started
            cpu_s = cpu_seconds(server.pid) - cpu_before
            commits = _commits(port) if system == "journal" else None
            ticks, tick_s = _ticks(port)
            ticks, tick_s = ticks - ticks_at_start, tick_s - tick_s_at_start
            received = sum(p.bytes for p in seated), sum(p.frames for p in seated)
        finally:
            for participant in seated:
                participant.close()
    return {
        "system": system,
        "count": count,
        "parallel": parallel,
        "seat_s": round(seat_s, 3),
        "join_ms_p50": _ms(percentile(joins, 0.5)),
        "join_ms_p90": _ms(percentile(joins, 0.9)),
        "join_ms_max": _ms(max(joins, default=None)),
        "cpu_ms_per_join": round(1000 * cpu_s / count, 3),
        "journal_commits": commits,
        "ticks": round(ticks),
        "tick_ms": _ms(tick_s / ticks if ticks else None),
        "tick_share": round(tick_s / cpu_s, 3) if cpu_s else None,
        "kb_received": round(received[0] / 1000),  # by all the clients, while being seated
        "frames_received": received[1],
    }


def _commits(port: int) -> int:
    """How many group commits the server's journal made so far (seating and ticks)."""
    return round(Scrape.of(port).value("dreamcommons_journal_commit_seconds_count"))


def _ticks(port: int) -> tuple[float, float]:
    """How many ticks the server made so far, and the seconds they took (wall time)."""
    scrape = Scrape.of(port)
    name = "dreamcommons_tick_seconds"
    return scrape.value(f"{name}_count"), scrape.value(f"{name}_sum")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 1)


async def main_async(args: argparse.Namespace) -> int:
    pin(os.getpid(), LOAD_CORE)  # as ``bench.commons`` runs: off the server's core
    with tempfile.TemporaryDirectory(prefix="dreamcommons-seating-") as scratch:
        for system in args.systems.split(","):
            if system not in SYSTEMS:
                print(f"unknown system {system!r}; one of {', '.join(SYSTEMS)}", file=sys.stderr)
                return 2
            row = await seat(system, args.count, args.parallel, Path(scratch))
            print(json.dumps(row), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.seating", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="participants to seat (2,000)")
    parser.add_argument("--parallel", type=int, default=50, help="joining at a time (50)")
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS)
    )
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(parser.parse_args()))
    return 130


if __name__ == "__main__":
    sys.exit(main())
