"""What a client that comes back is sent: the deltas it missed, against the full state.

    python -m bench.resume_sizes --ladder 100,300,1000 --away 1,5,10,30

The commons workload of ``bench.wire_sizes`` (N participants contributing once a second,
ten ticks a second), counted in process through the engine after a 10 s warm-up: for a
client away for each of ``--away`` seconds, the bytes of the deltas it missed (a resume by
sequence replays them) and of a welcome with the full state (what it gets otherwise), in
JSON and msgpack. No sockets, no clock: the same numbers on every machine.
"""

from __future__ import annotations

import argparse

from bench.wire_sizes import TICK_HZ, WARMUP_TICKS, commons_ticks
from dreamcommons.contracts.protocol import Encoding, Welcome, encode


def resume_sizes(participants: int, away_s: list[float]) -> dict[float, dict[str, int]]:
    """For each time away: the bytes of its missed deltas and of a full welcome, by encoding."""
    longest = round(max(away_s) * TICK_HZ)
    deltas: list[dict[Encoding, int]] = []
    for k, (state, delta) in enumerate(commons_ticks(participants), start=1):
        if k > WARMUP_TICKS:
            deltas.append({e: len(encode(delta, e)) for e in Encoding})
        if k == WARMUP_TICKS + longest:
            welcome = Welcome(participant="p1", resume="r" * 32, tick_hz=TICK_HZ, state=state)
            break
    sizes: dict[float, dict[str, int]] = {}
    for away in away_s:
        missed = deltas[len(deltas) - round(away * TICK_HZ) :]
        sizes[away] = {
            f"{kind}_{e.name.lower()}": value
            for e in Encoding
            for kind, value in (
                ("replay", sum(d[e] for d in missed)),
                ("state", len(encode(welcome, e))),
            )
        }
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ladder", default="100,300,1000", help="participants per row")
    parser.add_argument("--away", default="1,5,10,30", help="seconds away, per column")
    args = parser.parse_args()
    away = [float(s) for s in args.away.split(",")]
    print("| N | away | replayed, JSON | full welcome, JSON | replayed, msgpack | full, msgpack |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(rung) for rung in args.ladder.split(",")):
        for seconds, s in resume_sizes(n, away).items():
            print(f"| {n:,} | {seconds:g} s | {s['replay_json']:,} | {s['state_json']:,} | "
                  f"{s['replay_msgpack']:,} | {s['state_msgpack']:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
