"""The "commons" workload of BENCH.md over a cluster, beside one process in the same run.

    python -m bench.cluster                               # N = 300, then N = 2,000
    python -m bench.cluster --ladder 2000 --window 10 --json

Each rung starts a NATS with JetStream (a temporary store, its monitoring port), ``--engines``
engines and two gateways, all ``dreamcommons host --cluster`` processes, and joins N
participants through the gateways in turn (participant ``i`` through gateway ``i % 2``; the
observer, participant 0, is on the first and sees everyone's contributions, half of them
made through the other gateway). Then the commons workload without devices runs as in
``bench.commons``: one contribution a second each, the latencies of the probes' own
contributions and of the observer's view of everyone's. Then the same N on one ``dreamcommons
host`` with its SQLite journal, with the same load generator, and the cluster's row carries
its ratios to that row.

Every server-side process (the gateways, the engines, NATS; the one process) is pinned to
core 0 and the load generator to core 1, so that the cluster and the one process have the
same core to spend: the figures show what the cluster's mechanism costs, not what more cores
give (``--spread`` leaves the cluster's processes free to use every core).

A cluster row gives each process's share of a core (``cpu_pct``), the bytes and messages
through NATS (its ``/varz``: ``in`` is what the processes published, ``out`` what NATS
delivered), KB per client per second as the clients received them, and each gateway's CPU per
connection per delta (``gateway_us_per_conn_delta``: its CPU time over its connections times
the deltas a second each of them received).
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
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.commons import (
    SERVER_CORE,
    SESSION,
    Workload,
    _answers,
    _ms,
    child,
    latency_fields,
    machine,
    run_row,
    steady_window,
    table,
    wait_until,
)
from bench.loadgen import BenchParticipant, Latencies, Window, connect_all
from bench.measure import Scrape, cpu_seconds, histogram_quantile, own_cpu_seconds, pin
from dreamcommons.server.cluster import NatsProcess
from tests.processes import free_port

LOAD_CORE = 1
GATEWAYS = ("gate-a", "gate-b")
COLUMNS = (
    ("system", "system"), ("participants", "N"), ("latency_p50_ms", "p50 ms"),
    ("latency_p99_ms", "p99 ms"), ("own_p99_ms", "own p99"), ("observer_p50_ms", "observer p50"),
    ("observer_p99_ms", "observer p99"), ("missing", "missing"), ("tick_p99_ms", "tick p99 ms"),
    ("server_cpu_pct", "server CPU %"), ("loadgen_cpu_pct", "loadgen CPU %"),
    ("msgs_per_client_s", "msgs/client/s"), ("kb_per_client_s", "KB/client/s"),
    ("nats_in_kb_s", "NATS in KB/s"), ("nats_out_kb_s", "NATS out KB/s"),
    ("nats_out_msgs_s", "NATS out msg/s"), ("gateway_us_per_conn_delta", "gateway µs/conn/delta"),
    ("seat_s", "seat s"), ("p99_ratio", "p99 ×"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Process:
    name: str  # gate-a, engine-a, nats
    role: str  # gateway, engine, nats
    pid: int
    port: int | None  # its HTTP port (/metrics), or None for NATS


@dataclass(frozen=True, slots=True)
class _Reading:
    at: float
    cpu: dict[str, float]  # process name -> CPU seconds so far
    loadgen_cpu: float
    frames: int
    bytes: int
    nats: dict[str, int]  # in_msgs, out_msgs, in_bytes, out_bytes
    engines: list[Scrape]


def varz(nats: NatsProcess) -> dict[str, int]:
    """NATS's own counts of what it took in and sent out, from its monitoring port."""
    url = f"http://{nats.host}:{nats.monitor_port}/varz"
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    return {key: int(body[key]) for key in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}


async def _reading(
    processes: list[Process], nats: NatsProcess, participants: list[BenchParticipant]
) -> _Reading:
    engines = [p for p in processes if p.role == "engine" and p.port is not None]
    return _Reading(
        at=time.monotonic(),
        cpu={p.name: cpu_seconds(p.pid) for p in processes},
        loadgen_cpu=own_cpu_seconds(),
        frames=sum(p.frames for p in participants),
        bytes=sum(p.bytes for p in participants),
        nats=await asyncio.to_thread(varz, nats),
        engines=[await asyncio.to_thread(Scrape.of, p.port) for p in engines if p.port],
    )


async def run_cluster_row(
    work: Workload, workdir: Path, engines: int = 1, spread: bool = False
) -> dict[str, Any]:
    """One rung on the cluster: NATS, ``engines`` engines, two gateways; a row of the table."""
    core = None if spread else SERVER_CORE
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(NatsProcess())
        assert nats.pid is not None
        if core is not None:
            pin(nats.pid, core)
        processes = [Process("nats", "nats", nats.pid, None)]
        state = stack.enter_context(tempfile.TemporaryDirectory(prefix="dreamcommons-state-"))
        nodes = [(f"engine-{chr(97 + k)}", "engine") for k in range(engines)]
        nodes += [(name, "gateway") for name in GATEWAYS]
        for name, role in nodes:
            port = free_port()
            process = await stack.enter_async_context(
                child("host", "--port", str(port), "--venue", work.venue, "--open", SESSION,
                      "--state-dir", state, "--cluster", nats.url, "--role", role,
                      "--node", name, log=workdir / f"{name}-{work.participants}.log",
                      core=SERVER_CORE if core is None else core)
            )  # fmt: skip
            if core is None:  # child() pins: undo it
                os.sched_setaffinity(process.pid, set(range(os.cpu_count() or 1)))
            await wait_until(lambda: _answers(port), name, 30)  # noqa: B023 (awaited here)
            processes.append(Process(name, role, process.pid, port))
        gateways = [p for p in processes if p.role == "gateway"]

        window, latencies = Window(), Latencies()
        urls = [f"ws://127.0.0.1:{g.port}/{SESSION}" for g in gateways]
        seating = time.monotonic()
        participants = await connect_all(
            urls, SESSION, work.participants, work.probes, window, latencies
        )
        seat_s = time.monotonic() - seating
        for participant in participants:
            stack.callback(participant.close)
        first, last = await steady_window(
            work, participants, window, stack, lambda: _reading(processes, nats, participants)
        )
    return cluster_row(work, processes, participants, latencies, first, last, seat_s)


def cluster_row(
    work: Workload,
    processes: list[Process],
    participants: list[BenchParticipant],
    latencies: Latencies,
    first: _Reading,
    last: _Reading,
    seat_s: float,
) -> dict[str, Any]:
    span = last.at - first.at
    n = work.participants
    cpu = {p.name: round(100 * (last.cpu[p.name] - first.cpu[p.name]) / span, 1) for p in processes}
    deltas_per_s = (last.frames - first.frames) / n / span  # what each client received
    per_connection: dict[str, float | None] = {}
    for k, gateway in enumerate(p for p in processes if p.role == "gateway"):
        connections = sum(1 for i in range(n) if i % len(GATEWAYS) == k)
        spent = last.cpu[gateway.name] - first.cpu[gateway.name]
        per_connection[gateway.name] = (
            round(1e6 * spent / span / (connections * deltas_per_s), 2) if deltas_per_s else None
        )
    tick = [
        histogram_quantile(0.99, before, after, "dreamcommons_tick_seconds")
        for before, after in zip(first.engines, last.engines, strict=True)
    ]
    nats = {key: (last.nats[key] - first.nats[key]) / span for key in last.nats}
    known = [per for per in per_connection.values() if per is not None]
    return {
        "system": "cluster",
        "participants": n,
        "devices": 0,
        "gateways": len(per_connection),
        "engines": len(first.engines),
        **latency_fields(participants, latencies),
        "tick_p99_ms": _ms(max((t for t in tick if t is not None), default=None)),
        "server_cpu_pct": round(sum(cpu.values()), 1),
        "cpu_pct": cpu,
        "loadgen_cpu_pct": round(100 * (last.loadgen_cpu - first.loadgen_cpu) / span, 1),
        "msgs_per_client_s": round(deltas_per_s, 1),
        "kb_per_client_s": round((last.bytes - first.bytes) / 1024 / n / span, 1),
        "nats_in_msgs_s": round(nats["in_msgs"]),
        "nats_out_msgs_s": round(nats["out_msgs"]),
        "nats_in_kb_s": round(nats["in_bytes"] / 1024, 1),
        "nats_out_kb_s": round(nats["out_bytes"] / 1024, 1),
        "gateway_us_per_conn_delta": round(sum(known) / len(known), 2) if known else None,
        "gateway_us_per_conn_delta_each": per_connection,
        "seat_s": round(seat_s, 3),
    }


async def run(
    rungs: list[int], work: Workload, workdir: Path, engines: int, spread: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in rungs:
        rung = Workload(n, 0, work.warmup_s, work.window_s, work.probes, work.venue)
        print(f"# cluster N={n} (2 gateways, {engines} engine(s)) ...", file=sys.stderr, flush=True)
        clustered = await run_cluster_row(rung, workdir, engines, spread)
        print(f"# one process N={n} ...", file=sys.stderr, flush=True)
        single = await run_row(rung, workdir, "dreamcommons")
        ours, theirs = clustered["latency_p99_ms"], single["latency_p99_ms"]
        clustered["p99_ratio"] = round(ours / theirs, 2) if ours and theirs else None
        rows += [clustered, single]
        for row in (clustered, single):
            if row["loadgen_cpu_pct"] > 80:
                print(
                    f"# note: the load generator's core was {row['loadgen_cpu_pct']}% busy "
                    f"({row['system']}, N={n}); latencies are partly its own",
                    file=sys.stderr,
                )
    return rows


async def main_async(args: argparse.Namespace) -> int:
    pin(os.getpid(), LOAD_CORE)
    with tempfile.TemporaryDirectory(prefix="dreamcommons-bench-") as scratch:
        folder = Path(args.logs or scratch)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        work = Workload(0, 0, args.warmup, args.window, args.probes, args.venue)
        rungs = [int(part) for part in args.ladder.split(",") if part.strip()]
        rows = await run(rungs, work, folder, args.engines, args.spread)
    print(table(rows, COLUMNS))
    for row in rows:
        if row["system"] == "cluster":
            shares = ", ".join(f"{name} {pct}%" for name, pct in row["cpu_pct"].items())
            print(f"N={row['participants']}: CPU of each process: {shares}")
    if args.json:
        print(json.dumps({"rows": rows, "machine": {**machine(), "spread": args.spread}}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", default="300,2000", help="participants per rung (300,2000)")
    parser.add_argument("--engines", type=int, default=1, help="engines in the cluster (1)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds (5)")
    parser.add_argument("--window", type=float, default=15.0, help="steady seconds (15)")
    parser.add_argument("--probes", type=int, default=50, help="fully decoding clients (50)")
    parser.add_argument("--venue", default="sleep-commons")
    parser.add_argument("--spread", action="store_true", help="cluster processes on every core")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--logs", metavar="DIR", help="keep the processes' logs here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
