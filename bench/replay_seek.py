"""How long a served replay takes to open a long night and to seek in it.

    .venv/bin/python -m bench.journal_recovery --events 300000 --keep night.sqlite
    .venv/bin/python -m bench.replay_seek night.sqlite [--session commons] [--seeks 50]

Reads the night's keyframes as ``dreamcommons replay --serve`` does at start, then enters the
night at random times as a ``playback`` does, and says what the keyframes hold in memory.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from dreamcommons.server.journal.keyframes import IndexedNight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal", type=Path)
    parser.add_argument("--session", default="commons")
    parser.add_argument("--seeks", type=int, default=50)
    args = parser.parse_args()
    night = IndexedNight(args.journal, args.session, None)
    try:
        started = time.perf_counter()
        night.build()
        built = time.perf_counter() - started
        print(
            f"{night.duration_s / 3600:.2f} h of session: keyframes read in {built:.1f} s,"
            f" {len(night.keyframes)} of them every {night.every_s:g} s,"
            f" {night.keyframe_bytes / 2**20:.1f} MiB"
        )
        rng = random.Random(3)
        took = []
        for _ in range(args.seeks):
            at = rng.uniform(0.0, night.duration_s)
            started = time.perf_counter()
            night.enter(at)
            took.append(time.perf_counter() - started)
        took.sort()
        print(
            f"seek ({args.seeks} random times): median {took[len(took) // 2] * 1000:.0f} ms,"
            f" slowest {took[-1] * 1000:.0f} ms"
        )
    finally:
        night.close()


if __name__ == "__main__":
    main()
