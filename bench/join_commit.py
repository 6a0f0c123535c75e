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
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import ParticipantJoined
from dreamcommons.server.journal import Journal
from dreamcommons.server.journal.session_journal import SessionJournal

TOKEN = "a-resume-token-as-long-as-a-real-one"


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def commits(count: int, joins: int, folder: Path) -> dict[str, Any]:
    """``count`` commits of ``joins`` new members each, on a fresh journal in ``folder``."""
    async with Journal(folder / f"joins-{joins}.sqlite") as journal:
        log = SessionJournal(journal, "commons", load_venue("sleep-commons"), snapshot_every=1)
        await log.commit()
        process, loop_thread, wall = _process_cpu(), time.thread_time(), time.perf_counter()
        for k in range(count):
            for j in range(joins):
                pid = f"p{k * joins + j:x}"
                log.member_joined(pid, "Lyra", "dreamer", TOKEN)
                log.record(ParticipantJoined(participant=pid, name="Lyra", role="dreamer"))
            await log.durable()
        return {
            "joins_per_commit": joins,
            "commits": count,
            "wall_ms": _per(time.perf_counter() - wall, count),
            "cpu_ms": _per(_process_cpu() - process, count),
            "loop_thread_cpu_ms": _per(time.thread_time() - loop_thread, count),
            "events_durable": journal.durable_seq,
        }


async def hand_off(count: int) -> dict[str, Any]:
    """``count`` awaited round trips to a one-thread executor that does nothing."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as executor:
        await loop.run_in_executor(executor, int)
        process, loop_thread, wall = _process_cpu(), time.thread_time(), time.perf_counter()
        for _ in range(count):
            await loop.run_in_executor(executor, int)
        return {
            "hand_off": count,
            "wall_ms": _per(time.perf_counter() - wall, count),
            "cpu_ms": _per(_process_cpu() - process, count),
            "loop_thread_cpu_ms": _per(time.thread_time() - loop_thread, count),
        }


def _per(seconds: float, count: int) -> float:
    return round(1000 * seconds / count, 3)


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
