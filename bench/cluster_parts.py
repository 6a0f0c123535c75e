"""What the cluster's NATS parts cost on this machine: lease takeover after a silent owner, a
durable append (one at a time, and in runs), core NATS's fan-out of delta-sized messages, a
rebuild's read of the tail, a snapshot of 2,000 participants.

    .venv/bin/python -m bench.cluster_parts [--trials 3] [--ttl 3] [--events 2000]

Starts a NATS with JetStream of its own (``NatsProcess``, temporary store). Takeover: an owner
keeps its lease, then stops refreshing without releasing (a kill -9 as NATS sees it); a
successor retries its claim every ``ttl / 3``; the figure is the time from the owner's
silence to the successor's claim.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.cluster import (
    LeaseHeld,
    NatsProcess,
    SessionLease,
    SessionLeases,
    SessionLog,
    connect,
)
from dreamcommons.server.engine import (
    DreamEngine,
    MotifContributed,
    ParticipantJoined,
    SleeperUpdated,
)
from dreamcommons.server.journal import Tick
from dreamcommons.server.journal.snapshots import encode_snapshot


async def takeover(leases: SessionLeases, session: str, rng: random.Random) -> float:
    """Seconds from an owner's last refresh-keeping moment to a successor's claim."""
    owner = await leases.claim(session, "engine-a")
    owner.keep()
    await asyncio.sleep(rng.uniform(leases.ttl / 3, leases.ttl))
    await owner.stop_keeping()
    silent = time.monotonic()
    while True:
        try:
            successor: SessionLease = await leases.claim(session, "engine-b")
        except LeaseHeld:
            await asyncio.sleep(leases.ttl / 3)
            continue
        taken = time.monotonic() - silent
        await successor.release()
        return taken


def engine_of(participants: int) -> DreamEngine:
    engine = DreamEngine(load_venue("sleep-commons"), "commons")
    for n in range(1, participants + 1):
        engine.apply(ParticipantJoined(f"p{n}", f"dreamer {n}", "dreamer"))
    for t in range(1, 4):
        for n in range(1, participants + 1, 2):
            engine.apply(SleeperUpdated(f"p{n}", 2, 0.2, (n % 7) / 7, 0.2, float(t)))
        for n in range(1, participants + 1, 3):
            engine.apply(MotifContributed(f"p{n}", t, "moon", 0.7, 0.3, 0.4))
        engine.tick(float(t))
    return engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fan_out(url: str, messages: int, size: int = 1900, listeners: int = 2) -> None:
    """Core NATS as the deltas use it: one publisher, ``listeners`` subscribed connections
    (gateways), messages of ``size`` bytes (a delta at N = 2,000); messages a second in and
    out of NATS until every listener has them all."""
    publisher = await connect(url, name="publisher")
    gateways = [await connect(url, name=f"gateway-{k}") for k in range(listeners)]
    done = asyncio.Event()
    received = [0] * listeners

    def counter(k: int) -> Callable[[Msg], Awaitable[None]]:
        async def count(_: Msg) -> None:
            received[k] += 1
            if sum(received) == messages * listeners:
                done.set()

        return count

    try:
        for k, gateway in enumerate(gateways):
            await gateway.subscribe("bench.deltas", cb=counter(k), pending_msgs_limit=-1)
            await gateway.flush()
        payload = bytes(size)
        started = time.perf_counter()
        for _ in range(messages):
            await publisher.publish("bench.deltas", payload)
        await publisher.flush()
        await asyncio.wait_for(done.wait(), 60)
        elapsed = time.perf_counter() - started
        print(
            f"core NATS fan-out, {size} B messages to {listeners} subscribers: "
            f"{messages / elapsed:,.0f} msgs/s in, {messages * listeners / elapsed:,.0f} out "
            f"({messages * listeners * size / elapsed / 2**20:.1f} MB/s out)"
        )
    finally:
        for client in (publisher, *gateways):
            await client.close()


async def run(trials: int, ttl: float, events: int) -> None:
    rng = random.Random(7)
    async with NatsProcess() as nats_server:
        nc = await connect(nats_server.url, name="bench")
        try:
            leases = await SessionLeases.open(nc, ttl=ttl)
            taken = [await takeover(leases, f"s{n}", rng) for n in range(trials)]
            print(
                f"takeover after a silent owner (ttl {ttl:g} s, claims every {ttl / 3:g} s): "
                + ", ".join(f"{t:.2f}" for t in taken)
                + f" s (max {max(taken):.2f} s)"
            )

            log = await SessionLog.open(nc)
            latencies = []
            started = time.perf_counter()
            for n in range(events):
                before = time.perf_counter()
                await log.append("commons", Tick(n / 10))
                latencies.append(time.perf_counter() - before)
            elapsed = time.perf_counter() - started
            print(
                f"append, one at a time, each awaited: {events / elapsed:,.0f} events/s, "
                f"p50 {statistics.median(latencies) * 1e3:.2f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms"
            )
            run_of = 200  # a tick's contributions at N = 2,000
            started = time.perf_counter()
            for n in range(0, events, run_of):
                await log.append_many("commons", [Tick(t / 10) for t in range(n, n + run_of)])
            elapsed = time.perf_counter() - started
            print(
                f"append_many, runs of {run_of} sent together, acknowledgements awaited "
                f"together: {events / elapsed:,.0f} events/s"
            )
            await fan_out(nats_server.url, messages=events * 5)
            started = time.perf_counter()
            read = [item async for item in log.read_after("commons", 0)]
            print(f"read_after of {len(read):,} events: {time.perf_counter() - started:.2f} s")

            blob = encode_snapshot(engine_of(2000))
            started = time.perf_counter()
            await log.save_snapshot("commons", blob, events)
            saved = time.perf_counter() - started
            started = time.perf_counter()
            await log.load_snapshot("commons")
            loaded = time.perf_counter() - started
            print(
                f"snapshot of 2,000 participants ({len(blob) / 1e3:.0f} KB): "
                f"save {saved * 1e3:.0f} ms, load {loaded * 1e3:.0f} ms"
            )
        finally:
            await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=3.0)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(run(args.trials, args.ttl, args.events))


if __name__ == "__main__":
    main()
