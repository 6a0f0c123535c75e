"""An engine's cost a tick against N: the pure engine of ``server/engine``, in process.

    python -m bench.engine_ladder                        # N = 100 to 10,000
    python -m bench.engine_ladder --ladder 10000 --ticks 100 --json

N participants join; each contributes once a second (the commons workload: a motif of the
venue's first 24, from a seeded phase, so a tenth of them in each tick); the engine ticks ten
times a second of session time, as fast as it can (no clock, no sockets, no journal). After
``--warmup`` ticks (the motifs reach their steady number), it times ``--ticks`` ticks: the
tick's contributions applied, ``engine.tick``, and the delta encoded once in msgpack and once
in JSON, as an owner does before it publishes them. ``core_pct_at_10hz`` is the share of one
core that ten such ticks a second take: an owner's work for the session, besides its
sockets, its log and its requests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from bench.commons import table
from bench.wire_sizes import seated_engine
from dreamcommons.contracts.protocol import Encoding, encode
from dreamcommons.server.engine import MotifContributed

TICK_HZ = 10


def rung(participants: int, warmup: int, ticks: int, venue_name: str) -> dict[str, Any]:
    """Time one engine of ``participants`` over ``ticks`` ticks after ``warmup``."""
    engine, rng, names = seated_engine(participants, venue_name)
    # who contributes in which tenth of the second: the phases, drawn once
    slots: list[list[int]] = [[] for _ in range(TICK_HZ)]
    for i in range(participants):
        slots[rng.randrange(TICK_HZ)].append(i)
    cids = [0] * participants
    applying, ticking, packing, texting, sizes = [], [], [], [], []
    for k in range(1, warmup + ticks + 1):
        contributions = [
            MotifContributed(
                f"p{i:x}",
                cids[i] + 1,
                rng.choice(names),
                rng.uniform(0.2, 1.0),
                rng.uniform(-1.0, 1.0),
                rng.uniform(0.0, 1.0),
            )
            for i in slots[k % TICK_HZ]
        ]
        for i in slots[k % TICK_HZ]:
            cids[i] += 1
        started = time.perf_counter()
        for event in contributions:
            engine.apply(event)
        applied = time.perf_counter()
        _, delta = engine.tick(k / TICK_HZ)
        ticked = time.perf_counter()
        packed = encode(delta, Encoding.MSGPACK)
        msgpacked = time.perf_counter()
        encode(delta, Encoding.JSON)
        done = time.perf_counter()
        if k > warmup:
            applying.append(applied - started)
            ticking.append(ticked - applied)
            packing.append(msgpacked - ticked)
            texting.append(done - msgpacked)
            sizes.append(len(packed))
    whole = [a + b + c + d for a, b, c, d in zip(applying, ticking, packing, texting, strict=True)]
    return {
        "participants": participants,
        "ticks": ticks,
        "contributions_per_tick": round(participants / TICK_HZ),
        "apply_ms_mean": _ms(statistics.mean(applying)),
        "tick_ms_mean": _ms(statistics.mean(ticking)),
        "encode_msgpack_ms_mean": _ms(statistics.mean(packing)),
        "encode_json_ms_mean": _ms(statistics.mean(texting)),
        "total_ms_p50": _ms(statistics.median(whole)),
        "total_ms_p99": _ms(sorted(whole)[min(len(whole) - 1, int(0.99 * len(whole)))]),
        "total_ms_mean": _ms(statistics.mean(whole)),
        "core_pct_at_10hz": round(100 * TICK_HZ * statistics.mean(whole), 1),
        "delta_msgpack_bytes": round(statistics.mean(sizes)),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


COLUMNS = (
    ("participants", "N"), ("contributions_per_tick", "contributions/tick"),
    ("apply_ms_mean", "apply ms"), ("tick_ms_mean", "tick ms"),
    ("encode_msgpack_ms_mean", "msgpack ms"), ("encode_json_ms_mean", "JSON ms"),
    ("total_ms_p50", "total p50 ms"), ("total_ms_p99", "total p99 ms"),
    ("core_pct_at_10hz", "core % at 10 Hz"), ("delta_msgpack_bytes", "delta B (msgpack)"),
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.engine_ladder", description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", default="100,1000,2000,5000,10000", help="participants")
    parser.add_argument("--warmup", type=int, default=100, help="ticks before timing (100)")
    parser.add_argument("--ticks", type=int, default=200, help="ticks timed (200)")
    parser.add_argument("--venue", default="sleep-commons")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rows = []
    for n in (int(part) for part in args.ladder.split(",") if part.strip()):
        print(f"# N={n} ...", file=sys.stderr, flush=True)
        rows.append(rung(n, args.warmup, args.ticks, args.venue))
    print(table(rows, COLUMNS))
    if args.json:
        print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
