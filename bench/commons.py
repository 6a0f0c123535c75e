"""The "commons" workload of BENCH.md against a real dreamcommons server and the baseline.

    python -m bench.commons                      # the standard ladder, one Markdown table
    python -m bench.commons --ladder 300 --json  # one rung, then one JSON line
    python -m bench.commons --systems dreamcommons   # without the baseline

Each row starts its own server process (pinned to core 0), its own Mosquitto and a fleet of
simulated devices at 5 Hz (pinned to core 1, with this load generator), joins N
participants over real WebSockets, pairs a device to each of the first M, lets them
contribute once a second on a fixed schedule, and measures over the steady window.

Each rung runs every chosen system, one after the other, with the same load generator:
dreamcommons, then the bare websockets + msgpack broadcast of ``bench.baseline`` (no rules,
no journal, no devices). The dreamcommons row then carries its ratios to the baseline's row
of the same rung and run: p99, server CPU, KB per client per second, seconds to seat N. At a
rung without devices each system is seated ``--seatings`` times (3), the others on fresh
servers, the systems taking turns; the seconds to seat N are their median.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.loadgen import BenchParticipant, Latencies, Schedule, Window, connect_all
from bench.measure import (
    Scrape,
    cpu_seconds,
    histogram_quantile,
    own_cpu_seconds,
    percentile,
    pin,
    rss_bytes,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from tests.processes import end, free_port
from tests.waiting import eventually

SESSION = "commons"
# Every bench participant connects from 127.0.0.1 into one session: lift the per-address
# connection and new-member limits and the session's member bound.
SERVER_ENVIRONMENT = {
    "DREAMCOMMONS_MAX_CONNECTIONS_PER_ADDRESS": "100000",
    "DREAMCOMMONS_NEW_MEMBERS_PER_S": "100000",
    "DREAMCOMMONS_NEW_MEMBER_BURST": "100000",
    "DREAMCOMMONS_MAX_MEMBERS": "100000",
}
SERVER_CORE, LOAD_CORE = 0, 1
SYSTEMS = ("dreamcommons", "baseline")
# dreamcommons ÷ baseline, field by field, for the rows of one rung in one run
RATIOS = (
    ("latency_p99_ms", "p99_ratio"), ("server_cpu_pct", "cpu_ratio"),
    ("kb_per_client_s", "kb_ratio"), ("seat_s", "seat_ratio"),
)  # fmt: skip
COLUMNS = (
    ("system", "system"), ("participants", "N"), ("devices", "M"), ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"), ("latency_p99_ms", "p99 ms"),
    ("observer_p99_ms", "observer p99"), ("missing", "missing"), ("tick_p99_ms", "tick p99 ms"),
    ("server_cpu_pct", "server CPU %"), ("server_rss_mb", "server RSS MB"),
    ("rss_kb_per_participant", "KB/participant"), ("loadgen_cpu_pct", "loadgen CPU %"),
    ("fleet_cpu_pct", "fleet CPU %"), ("msgs_per_client_s", "msgs/client/s"),
    ("kb_per_client_s", "KB/client/s"), ("mqtt_msgs_per_s", "MQTT msg/s"),
    ("samples_lost", "samples lost"), ("journal_commit_ms", "commit ms"), ("seat_s", "seat s"),
    ("p99_ratio", "p99 ×"), ("cpu_ratio", "CPU ×"), ("kb_ratio", "KB/s ×"),
    ("seat_ratio", "seat ×"),
)  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]
Reading = TypeVar("Reading")


@dataclass(frozen=True, slots=True)
class Workload:
    participants: int
    devices: int
    warmup_s: float = 5.0
    window_s: float = 20.0
    probes: int = 50
    venue: str = "sleep-commons"


@contextlib.asynccontextmanager
async def child(
    *args: str, log: Path, core: int, module: str = "dreamcommons"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m module ARGS`` (``dreamcommons``, or ``bench.baseline``) as a child process,
    pinned to ``core``, its output in ``log``."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **SERVER_ENVIRONMENT},
            cwd=ROOT,
        )
    pin(process.pid, core)
    try:
        yield process
    finally:
        await end(process, 10)


async def wait_until(check: Callable[[], object], what: str, seconds: float) -> None:
    """Poll a blocking ``check`` (an HTTP endpoint: there is no event to wait on) in a thread."""
    await eventually(lambda: asyncio.to_thread(check), what, seconds, every=0.2)


def _answers(port: int) -> bool:
    try:
        Scrape.of(port)
    except OSError:
        return False
    return True


async def run_row(work: Workload, workdir: Path, system: str = "dreamcommons") -> dict[str, Any]:
    """Measure one rung of the ladder on one system; a row of the table. The baseline has no
    devices: its rows have M = 0 whatever the workload asks."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; one of {', '.join(SYSTEMS)}")
    if system == "baseline":
        work = dataclasses.replace(work, devices=0)
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        broker_args: tuple[str, ...] = ()
        if system == "dreamcommons" and work.devices:
            broker = await stack.enter_async_context(MosquittoProcess())
            assert broker._process is not None
            pin(broker._process.pid, LOAD_CORE)
            broker_args = ("--broker", broker.url)
        server = await start_server(stack, work, system, port, workdir, broker_args)
        rss_before = rss_bytes(server.pid)
        codes: list[str] = []
        fleet_pid: int | None = None
        if work.devices:
            codes_file = workdir / f"codes-{work.participants}.txt"
            fleet = await stack.enter_async_context(
                child("fleet", "--count", str(work.devices), "--broker", broker.url, "--hz", "5",
                      "--batch", "5", "--seed", "7", "--codes", str(codes_file),
                      "--status-every", "5", log=workdir / f"fleet-{work.participants}.log",
                      core=LOAD_CORE)
            )  # fmt: skip
            fleet_pid = fleet.pid
            online = lambda: Scrape.of(port).value("dreamcommons_devices_online") >= work.devices  # noqa: E731
            await wait_until(online, f"{work.devices} devices online", 120)
            codes = [line.split()[2] for line in codes_file.read_text().splitlines()]

        window, latencies = Window(), Latencies()
        seat_s, participants = await _seat(work, port, window, latencies)
        for participant in participants:
            stack.callback(participant.close)
        await asyncio.gather(*(p.pair(code) for p, code in zip(participants, codes, strict=False)))

        first, last = await steady_window(
            work, participants, window, stack,
            lambda: _reading(port, server.pid, fleet_pid, participants),
        )  # fmt: skip
        rss_after = rss_bytes(server.pid)

    span = last.at - first.at
    n = work.participants
    return {
        "system": system,
        "participants": n,
        "devices": work.devices,
        **latency_fields(participants, latencies),
        "tick_p99_ms": _ms(
            histogram_quantile(0.99, first.metrics, last.metrics, "dreamcommons_tick_seconds")
        ),
        "server_cpu_pct": round(100 * (last.server_cpu - first.server_cpu) / span, 1),
        "server_rss_mb": round(rss_after / 2**20, 1),
        "rss_kb_per_participant": round((rss_after - rss_before) / 1024 / n, 1),
        "loadgen_cpu_pct": round(100 * (last.loadgen_cpu - first.loadgen_cpu) / span, 1),
        "fleet_cpu_pct": round(100 * (last.fleet_cpu - first.fleet_cpu) / span, 1),
        "msgs_per_client_s": round((last.frames - first.frames) / n / span, 1),
        "kb_per_client_s": round((last.bytes - first.bytes) / 1024 / n / span, 1),
        "mqtt_msgs_per_s": round(
            (
                last.metrics.value("dreamcommons_mqtt_messages_total")
                - first.metrics.value("dreamcommons_mqtt_messages_total")
            )
            / span
        ),
        "samples_lost": int(last.metrics.value("dreamcommons_samples_lost_total")),
        "journal_commit_ms": _ms(
            _mean_between(first.metrics, last.metrics, "dreamcommons_journal_commit_seconds")
        ),
        "seat_s": round(seat_s, 3),
    }


async def start_server(
    stack: contextlib.AsyncExitStack,
    work: Workload,
    system: str,
    port: int,
    workdir: Path,
    broker_args: tuple[str, ...] = (),
    log_tag: str = "",
    *,
    journal: bool = True,
) -> asyncio.subprocess.Process:
    """``system``'s server for ``work`` on ``port``, answering, until ``stack`` closes: the
    baseline, or dreamcommons with a journal of its own unless ``journal`` is False (and the
    broker of ``broker_args``)."""
    if system == "baseline":
        args: tuple[str, ...] = ("--port", str(port))
        module, log = "bench.baseline", f"baseline-{work.participants}{log_tag}.log"
    else:
        args = ("host", "--port", str(port), "--venue", work.venue, "--open", SESSION, *broker_args)
        if journal:
            scratch = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="dreamcommons-journal-")
            )
            args += ("--journal", str(Path(scratch) / "dreams.sqlite"))
        module, log = "dreamcommons", f"server-{work.participants}{log_tag}.log"
    server = await stack.enter_async_context(
        child(*args, log=workdir / log, core=SERVER_CORE, module=module)
    )
    await wait_until(lambda: _answers(port), "the server", 30)
    return server


async def _seat(
    work: Workload, port: int, window: Window, latencies: Latencies
) -> tuple[float, list[BenchParticipant]]:
    """Join ``work``'s participants to the server on ``port``: the seconds it took, and them."""
    url = f"ws://127.0.0.1:{port}/{SESSION}"
    seating = time.monotonic()
    participants = await connect_all(
        url, SESSION, work.participants, work.probes, window, latencies
    )
    return time.monotonic() - seating, participants


async def seat_again(work: Workload, workdir: Path, system: str, log_tag: str = "") -> float:
    """Seconds to seat ``work``'s participants on a fresh server of ``system``, seated as
    ``run_row`` seats them (a rung without devices); nothing else measured."""
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        await start_server(stack, work, system, port, workdir, log_tag=log_tag)
        seat_s, participants = await _seat(work, port, Window(), Latencies())
        for participant in participants:
            participant.close()
    return round(seat_s, 3)


async def steady_window(
    work: Workload,
    participants: list[BenchParticipant],
    window: Window,
    stack: contextlib.AsyncExitStack,
    read: Callable[[], Awaitable[Reading]],
) -> tuple[Reading, Reading]:
    """Run BENCH.md's contribution schedule over the seated participants: the warm-up, then
    the steady window, read at its start and its end by ``read``; then two seconds more, for
    the window's last contributions to reach the screens."""
    motifs = [m.name for m in load_venue(work.venue).motifs][:24]
    t0 = time.monotonic() + 0.5
    window.start = t0 + work.warmup_s
    window.end = window.start + work.window_s
    stop = Schedule(motifs).start(participants, t0, window.end + 1.0)
    stack.callback(stop)
    await asyncio.sleep(window.start - time.monotonic())
    first = await read()
    await asyncio.sleep(window.end - time.monotonic())
    last = await read()
    await asyncio.sleep(2.0)
    return first, last


def latency_fields(participants: list[BenchParticipant], latencies: Latencies) -> dict[str, Any]:
    """What the probes and the observer saw of the window's contributions: the latencies
    (own and observer together, then each), and how many never reached a screen."""
    sent = sum(len(p.sent) for p in participants)
    observer = participants[0]
    seen_by_observer = sum(
        1 for p in participants for cid in p.sent if cid <= observer.observed.get(p.pid, 0)
    )
    probes_missing = sum(1 for p in participants if p.probe for cid in p.sent if cid > p.own_seen)
    both = latencies.own + latencies.observer
    return {
        "contributions": sent,
        "latency_p50_ms": _ms(percentile(both, 0.50)),
        "latency_p95_ms": _ms(percentile(both, 0.95)),
        "latency_p99_ms": _ms(percentile(both, 0.99)),
        "own_p50_ms": _ms(percentile(latencies.own, 0.50)),
        "own_p99_ms": _ms(percentile(latencies.own, 0.99)),
        "observer_p50_ms": _ms(percentile(latencies.observer, 0.50)),
        "observer_p99_ms": _ms(percentile(latencies.observer, 0.99)),
        "missing": (sent - seen_by_observer) + probes_missing,
    }


async def run_ladder(
    rungs: list[Workload], workdir: Path, systems: tuple[str, ...] = SYSTEMS, seatings: int = 1
) -> list[dict[str, Any]]:
    """Every rung on every system, one after the other; the dreamcommons rows with their
    ratios to the baseline's row of the same rung. A rung without devices is seated
    ``seatings`` times on each system (``more_seatings``)."""
    rows = []
    for work in rungs:
        for system in systems:
            m = 0 if system == "baseline" else work.devices
            print(f"# {system} N={work.participants} M={m} ...", file=sys.stderr, flush=True)
            rows.append(await run_row(work, workdir, system))
            if rows[-1]["loadgen_cpu_pct"] > 80:
                print(
                    f"# note: the load generator's core was {rows[-1]['loadgen_cpu_pct']}% "
                    "busy; latencies at this N are partly its own",
                    file=sys.stderr,
                )
        if not work.devices and seatings > 1:
            await more_seatings(work, workdir, rows[-len(systems) :], seatings - 1)
        if work.devices and "baseline" in systems and "dreamcommons" in systems:
            print(
                f"# note: at N={work.participants} dreamcommons had {work.devices} devices "
                "and the baseline none; --devices none compares like with like",
                file=sys.stderr,
            )
    return with_ratios(rows)


async def more_seatings(
    work: Workload, workdir: Path, rows: list[dict[str, Any]], more: int
) -> None:
    """Seat ``work`` ``more`` times again on fresh servers, the rows' systems taking turns
    (so that a machine that slows down slows both), and give each row the median of its
    seatings as ``seat_s``, every one of them in ``seat_runs_s``: one seating swings by a
    third on a shared machine, the baseline's most."""
    runs = {row["system"]: [row["seat_s"]] for row in rows}
    for again in range(more):
        for row in rows:
            system = row["system"]
            print(f"# {system} N={work.participants}, seated again ...", file=sys.stderr)
            runs[system].append(await seat_again(work, workdir, system, f"-seated{again + 2}"))
    for row in rows:
        row["seat_runs_s"] = runs[row["system"]]
        row["seat_s"] = round(statistics.median(runs[row["system"]]), 3)


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each dreamcommons row gains ``p99_ratio``, ``cpu_ratio``, ``kb_ratio`` and
    ``seat_ratio``: its figure divided by the baseline's at the same N in these rows (None
    when there is no such row, or a figure is missing or zero)."""
    baselines = {row["participants"]: row for row in rows if row["system"] == "baseline"}
    out = []
    for row in rows:
        baseline = baselines.get(row["participants"])
        if row["system"] == "dreamcommons" and baseline is not None:
            row = {**row, **{ratio: _ratio(row[key], baseline[key]) for key, ratio in RATIOS}}
        out.append(row)
    return out


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 2)


@dataclass(frozen=True, slots=True)
class _Reading:
    at: float
    metrics: Scrape
    server_cpu: float
    loadgen_cpu: float
    fleet_cpu: float
    frames: int
    bytes: int


async def _reading(port: int, server: int, fleet: int | None, participants: list[Any]) -> _Reading:
    return _Reading(
        at=time.monotonic(),
        metrics=await asyncio.to_thread(Scrape.of, port),
        server_cpu=cpu_seconds(server),
        loadgen_cpu=own_cpu_seconds(),
        fleet_cpu=0.0 if fleet is None else cpu_seconds(fleet),
        frames=sum(p.frames for p in participants),
        bytes=sum(p.bytes for p in participants),
    )


def _mean_between(before: Scrape, after: Scrape, summary: str) -> float | None:
    count = after.value(f"{summary}_count") - before.value(f"{summary}_count")
    total = after.value(f"{summary}_sum") - before.value(f"{summary}_sum")
    return total / count if count else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    lines = [
        "| " + " | ".join(title for _, title in columns) + " |",
        "|" + "---:|" * len(columns),
    ]
    for row in rows:
        cells = ("–" if row.get(key) is None else str(row[key]) for key, _ in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "server_core": SERVER_CORE,
        "loadgen_core": LOAD_CORE,
    }


def ladder(spec: str, devices: str) -> list[Workload]:
    """``100,300,1000,2000`` with devices ``auto`` (M = N up to 1,000, none at 2,000, as in
    BENCH.md's targets), ``none``, or a number."""
    rungs = []
    for n in (int(part) for part in spec.split(",") if part.strip()):
        if devices == "auto":
            m = n if n <= 1000 else 0
        elif devices == "none":
            m = 0
        else:
            m = min(n, int(devices))
        rungs.append(Workload(participants=n, devices=m))
    return rungs


def systems(spec: str) -> tuple[str, ...]:
    """``dreamcommons,baseline``: which systems run, in that order."""
    chosen = tuple(part.strip() for part in spec.split(",") if part.strip())
    unknown = [name for name in chosen if name not in SYSTEMS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"systems are {', '.join(SYSTEMS)}, not {spec!r}")
    return chosen


async def main_async(args: argparse.Namespace) -> int:
    pin(os.getpid(), LOAD_CORE)
    with tempfile.TemporaryDirectory(prefix="dreamcommons-bench-") as scratch:
        folder = Path(args.logs or scratch)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        rungs = [
            Workload(rung.participants, rung.devices, args.warmup, args.window, args.probes,
                     args.venue)
            for rung in ladder(args.ladder, args.devices)
        ]  # fmt: skip
        rows = await run_ladder(rungs, folder, args.systems, args.seatings)
    print(table(rows))
    if args.json:
        print(json.dumps({"rows": rows, "machine": machine()}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.commons", description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", default="100,300,1000,2000", help="participants per row")
    parser.add_argument("--devices", default="auto", help="auto, none, or a number")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds (5)")
    parser.add_argument("--window", type=float, default=20.0, help="steady seconds (20)")
    parser.add_argument("--probes", type=int, default=50, help="fully decoding clients (50)")
    parser.add_argument("--venue", default="sleep-commons")
    parser.add_argument("--systems", type=systems, default=SYSTEMS,
                        help="dreamcommons,baseline (both, in that order)")  # fmt: skip
    parser.add_argument("--seatings", type=int, default=3,
                        help="seatings of each system at a rung without devices; seat s is "
                        "their median (3)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--logs", metavar="DIR", help="keep the server's and fleet's logs here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
