"""What the commons workload's deltas weigh on the wire, counted in process through the engine.

    python -m bench.wire_sizes --ladder 100,300,1000,2000

N participants each contribute once a second (a motif of the venue's first 24, the
workload's intensity, valence and arousal) on a fixed schedule from a seeded phase; the
engine ticks ten times a second; each delta is encoded as the host encodes it. After a
10 s warm-up, it prints the mean bytes a tick over 30 s per encoding, and what msgpack with
32-bit floats would weigh; ``--by-field``, the msgpack bytes of each of the delta's fields
(its key and value) instead. No sockets, no clock: the same numbers on every machine.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
from collections.abc import Iterator

import msgpack

from dreamcommons.contracts.protocol import Delta, DreamscapeState, Encoding, encode
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, MotifContributed, ParticipantJoined

TICK_HZ = 10
WARMUP_TICKS = 100
COUNTED_TICKS = 300


def delta_sizes(participants: int, venue_name: str = "sleep-commons") -> dict[str, float]:
    """Mean bytes a tick of the workload's deltas: msgpack, JSON, msgpack with float32."""
    sizes: dict[str, list[int]] = {"msgpack": [], "json": [], "msgpack_float32": []}
    for delta in _workload_deltas(participants, venue_name):
        sizes["msgpack"].append(len(encode(delta, Encoding.MSGPACK)))
        sizes["json"].append(len(encode(delta, Encoding.JSON)))
        plain = msgpack.unpackb(encode(delta, Encoding.MSGPACK))
        single = msgpack.packb(plain, use_bin_type=True, use_single_float=True)
        sizes["msgpack_float32"].append(len(single))
    return {key: statistics.mean(values) for key, values in sizes.items()}


def field_sizes(participants: int, venue_name: str = "sleep-commons") -> dict[str, float]:
    """Mean msgpack bytes a tick of each field of the workload's deltas (key and value; a
    field left out of a delta counts 0 there), largest first."""
    totals: dict[str, int] = {}
    ticks = 0
    for delta in _workload_deltas(participants, venue_name):
        ticks += 1
        plain = msgpack.unpackb(encode(delta, Encoding.MSGPACK))
        for key, value in plain.items():
            size = len(msgpack.packb(key)) + len(msgpack.packb(value, use_bin_type=True))
            totals[key] = totals.get(key, 0) + size
    return {key: totals[key] / ticks for key in sorted(totals, key=lambda k: -totals[k])}


def seated_engine(
    participants: int, venue_name: str
) -> tuple[DreamEngine, random.Random, list[str]]:
    """An engine of the workload's session with ``participants`` dreamers (``p0``, ``p1``, ...)
    joined, the workload's seeded generator, and the 24 motif names it draws from."""
    venue = load_venue(venue_name)
    engine = DreamEngine(venue, "commons")
    for i in range(participants):
        engine.apply(ParticipantJoined(participant=f"p{i:x}", name=f"n{i}", role="dreamer"))
    return engine, random.Random(1), [motif.name for motif in venue.motifs][:24]


def commons_ticks(
    participants: int, venue_name: str = "sleep-commons"
) -> Iterator[tuple[DreamscapeState, Delta]]:
    """The workload's ticks from the first, each state with its delta, as long as asked."""
    engine, rng, names = seated_engine(participants, venue_name)
    phases = [rng.random() for _ in range(participants)]
    cids = [0] * participants
    for k in itertools.count(1):
        t = k / TICK_HZ
        for i, phase in enumerate(phases):
            if t > phase and (t - phase) % 1.0 < 1.0 / TICK_HZ:
                cids[i] += 1
                engine.apply(
                    MotifContributed(
                        f"p{i:x}",
                        cids[i],
                        rng.choice(names),
                        rng.uniform(0.2, 1.0),
                        rng.uniform(-1.0, 1.0),
                        rng.uniform(0.0, 1.0),
                    )
                )
        yield engine.tick(t)


def _workload_deltas(participants: int, venue_name: str) -> Iterator[Delta]:
    """The deltas of the counted ticks, after the warm-up."""
    ticks = commons_ticks(participants, venue_name)
    for k, (_, delta) in zip(range(1, WARMUP_TICKS + COUNTED_TICKS + 1), ticks, strict=False):
        if k > WARMUP_TICKS:
            yield delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ladder", default="100,300,1000,2000", help="participants per row")
    parser.add_argument("--venue", default="sleep-commons")
    parser.add_argument("--by-field", action="store_true", help="msgpack bytes of each field")
    args = parser.parse_args()
    if args.by_field:
        for n in (int(rung) for rung in args.ladder.split(",")):
            by_field = field_sizes(n, args.venue)
            fields = ", ".join(f"{key} {size:,.0f}" for key, size in by_field.items())
            print(f"N = {n:,}: {fields} (B a tick)")
        return
    print("| N | msgpack B/tick | JSON B/tick | msgpack float32 B/tick |")
    print("|---:|---:|---:|---:|")
    for n in (int(rung) for rung in args.ladder.split(",")):
        sizes = delta_sizes(n, args.venue)
        print(f"| {n:,} | {sizes['msgpack']:,.0f} | {sizes['json']:,.0f} | "
              f"{sizes['msgpack_float32']:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
