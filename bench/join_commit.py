"""What a join's commit costs a journaled host, in one process on uvloop, as the host runs.

    python -m bench.join_commit                     # 300 commits of 1, 8 and 50 joins each
    python -m bench.join_commit --commits 1000 --joins 1,8

Each commit holds ``joins`` members and their ``joined`` events, recorded as a session does,
then made durable with ``await durable()`` (the group commit a join waits for). One JSON line
per group size: the commit's wall milliseconds, the process's CPU milliseconds for it (every
thread, user and system: SQLite's writes and fsync are mostly the kernel's), and the event
loop's own thread's. Then one line for the hand-off alone: ``run_in_executor`` of a function
that does nothing, awaited, which every commit pays besides its SQLite work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

from bench.measure import own_cpu_seconds
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import ParticipantJoined
from dreamcommons.server.journal import Journal
from dreamcommons.server.journal.session_journal import SessionJournal

TOKEN = "a-resume-token-as-long-as-a-real-one"
Clocks = tuple[float, float, float]  # the process's CPU, the loop thread's CPU, wall


def _clocks() -> Clocks:
    return own_cpu_seconds(), time.thread_time(), time.perf_counter()


def _per_round(started: Clocks, count: int) -> dict[str, float]:
    """Milliseconds per round of each clock since ``started``, over ``count`` rounds."""
    process, loop_thread, wall = (now - then for now, then in zip(_clocks(), started, strict=True))
    return {
        "wall_ms": round(1000 * wall / count, 3),
        "cpu_ms": round(1000 * process / count, 3),
        "loop_thread_cpu_ms": round(1000 * loop_thread / count, 3),
    }


async def commits(count: int, joins: int, folder: Path) -> dict[str, Any]:
    """``count`` commits of ``joins`` new members each, on a fresh journal in ``folder``."""
    async with Journal(folder / f"joins-{joins}.sqlite") as journal:
        log = SessionJournal(journal, "commons", load_venue("sleep-commons"), snapshot_every=1)
        await log.commit()
        started = _clocks()
        for k in range(count):
            for j in range(joins):
                pid = f"p{k * joins + j:x}"
                log.member_joined(pid, "Lyra", "dreamer", TOKEN)
                log.record(ParticipantJoined(participant=pid, name="Lyra", role="dreamer"))
            await log.durable()
        return {
            "joins_per_commit": joins,
            "commits": count,
            **_per_round(started, count),
            "events_durable": journal.durable_seq,
        }


async def hand_off(count: int) -> dict[str, Any]:
    """``count`` awaited round trips to a one-thread executor that does nothing."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as executor:
        await loop.run_in_executor(executor, int)
        started = _clocks()
        for _ in range(count):
            await loop.run_in_executor(executor, int)
        return {"hand_off": count, **_per_round(started, count)}


async def main_async(count: int, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="dreamcommons-join-commit-") as scratch:
        for joins in sizes:
            print(json.dumps(await commits(count, joins, Path(scratch))), flush=True)
    print(json.dumps(await hand_off(count)), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.join_commit", description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=300, help="commits per size (300)")
    parser.add_argument("--joins", default="1,8,50", help="joins per commit, comma-separated")
    args = parser.parse_args()
    uvloop.run(main_async(args.commits, [int(n) for n in args.joins.split(",")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
