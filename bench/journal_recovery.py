"""How long recovery takes for a journal of a million events.

    .venv/bin/python -m bench.journal_recovery [--events 1000000] [--keep PATH]

Builds a journal as a busy night-long session writes it (50 participants, each contributing
about once a second and heard from their pod once a second, ticks at the venue's 10 Hz, a
snapshot every 30 s of session time), through the same ``Journal`` and engine the server
uses, then times what a restarted server does: open the journal, load the latest snapshot,
replay the tail. For comparison it also times a replay of the whole session from its start.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import (
    DreamEngine,
    MotifContributed,
    ParticipantJoined,
    SleeperUpdated,
)
from dreamcommons.server.journal import Journal, Tick, replay_file, restore, token_hash

PARTICIPANTS = 50
SNAPSHOT_EVERY_S = 30.0
COMMIT_EVERY_TICKS = 100  # the server commits every tick; building faster changes nothing read


async def build(path: Path, events: int, seed: int = 7) -> float:
    """Write ``events`` events of one session; return its length in session seconds."""
    commons = load_venue("sleep-commons")
    night = commons.phases.model_copy(update={"dream": 8 * 3600.0})  # a whole night's dream
    venue = commons.model_copy(update={"phases": night})
    motifs = [m.name for m in venue.motifs]
    rng = random.Random(seed)
    engine = DreamEngine(venue, "commons")
    period = 1.0 / venue.tick_hz
    snapshot_every = round(SNAPSHOT_EVERY_S * venue.tick_hz)
    async with Journal(path) as journal:
        journal.record_session("commons", venue)
        written = 0
        for n in range(1, PARTICIPANTS + 1):
            pid = f"p{n}"
            joined = ParticipantJoined(participant=pid, name=f"Dreamer {n}", role="dreamer")
            engine.apply(joined)
            journal.record_member("commons", pid, joined.name, "dreamer", token_hash(pid))
            journal.append("commons", joined)
            written += 1
        cids = dict.fromkeys(range(1, PARTICIPANTS + 1), 0)
        tick = 0
        while written < events:
            tick += 1
            t = tick * period
            for n in range(1, PARTICIPANTS + 1):
                if rng.random() < period:  # about once a second each
                    cids[n] += 1
                    event = MotifContributed(
                        f"p{n}",
                        cids[n],
                        rng.choice(motifs),
                        rng.random(),
                        rng.uniform(-1, 1),
                        rng.random(),
                    )
                    engine.apply(event)
                    journal.append("commons", event)
                    written += 1
                if rng.random() < period:
                    update = SleeperUpdated(
                        f"p{n}",
                        rng.choice((1, 2, 2, 3, 4)),
                        rng.random() * 0.3,
                        rng.random(),
                        0.24,
                        t,
                    )
                    engine.apply(update)
                    journal.append("commons", update)
                    written += 1
            engine.tick(t)
            engine.drain_intents()
            seq = journal.append("commons", Tick(t))
            written += 1
            if tick % snapshot_every == 0:
                journal.snapshot("commons", seq, engine)
            if tick % COMMIT_EVERY_TICKS == 0:
                await journal.commit()
        await journal.commit()
    return tick * period


async def recover(path: Path) -> tuple[float, int, int]:
    """Seconds to open the journal and restore every session; the state's tick, events replayed."""
    started = time.perf_counter()
    async with Journal(path) as journal:
        sessions = await journal.recover()
        engines = [restore(session) for session in sessions]
    elapsed = time.perf_counter() - started
    return elapsed, engines[0].state.seq, sum(len(s.events) for s in sessions)


def full_replay(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    last = 0
    for state, _ in replay_file(path, "commons"):
        last = state.seq
    return time.perf_counter() - started, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the journal here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or Path(scratch) / "bench.sqlite"
        started = time.perf_counter()
        session_s = asyncio.run(build(path, args.events))
        built_s = time.perf_counter() - started
        size = path.stat().st_size
        print(
            f"built {args.events:,} events ({session_s / 3600:.1f} h of session, "
            f"{size / 1e6:.0f} MB) in {built_s:.0f}s"
        )
        elapsed, seq, tail = asyncio.run(recover(path))
        print(
            f"recovery (latest snapshot + {tail:,} events of tail): {elapsed:.2f}s, at tick {seq:,}"
        )
        replay_s, last = full_replay(path)
        print(f"full replay from the first event (no snapshot): {replay_s:.1f}s, {last:,} ticks")


if __name__ == "__main__":
    main()
