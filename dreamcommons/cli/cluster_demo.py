"""``dreamcommons cluster-demo``: a cluster on this machine, with bot dreamers on both gateways.

It starts a NATS with JetStream on a free port (a temporary store) and a Mosquitto, then
each process of ``PARTS`` as a ``dreamcommons host --cluster`` child process: two engines, two
gateways and two ingests, which share the devices' traffic (an MQTT 5 shared subscription).
A fleet of simulated pods and fabric, one per bot, comes on the broker; the bot dreamers join
the demo's session through the gateways in turn and each pairs its device by its code; the
first join has one engine claim the session. It prints the browser addresses of both
gateways, the watcher's view once a second, and at the end a summary with each process's
figures: its role, the sessions it owns, its connections, the device batches it routed or
folded, and its share of a core (``--json``: the summary as one last JSON line). Another kind
of process is one more entry of ``PARTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dreamcommons.cli.demo import NIGHT_ACCELERATION, give_up, report_until
from dreamcommons.client.bots import BOT_NAMES, BotDreamer, BotHost
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.firmware_sim.cli import stop_signals
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import BrokerUnavailable, MosquittoProcess, free_port
from dreamcommons.server.cluster import NatsProcess
from dreamcommons.server.cluster.errors import NatsUnavailable

SESSION = "demo"
_READY_WITHIN_S = 60.0  # a loaded machine imports slowly
_STOP_WITHIN_S = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Part:
    """One process of the demo's cluster: ``dreamcommons host --cluster --role ROLE``, named
    ``name`` in it; ``serves``: bots and browsers connect to it; ``hears_devices``: it is
    given the demo's broker; ``extra``: more arguments."""

    name: str
    role: str
    serves: bool = False
    hears_devices: bool = False
    extra: tuple[str, ...] = ()


PARTS = (
    Part("engine-a", "engine"),
    Part("engine-b", "engine"),
    Part("gate-a", "gateway", serves=True),
    Part("gate-b", "gateway", serves=True),
    Part("ingest-a", "ingest", hears_devices=True),
    Part("ingest-b", "ingest", hears_devices=True),
)


@dataclass(slots=True)
class Running:
    """A started part: its port, its process, what it printed, and its CPU time at the start."""

    part: Part
    host: str
    port: int
    process: asyncio.subprocess.Process
    log: Path
    printed: list[str] = field(default_factory=list)
    cpu_at_start: float = 0.0

    @property
    def web(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{SESSION}"

    def operator_key(self) -> str:
        for line in self.printed:
            if line.startswith("operator key:"):
                return line.split()[2]
        raise RuntimeError(f"{self.part.name} printed no operator key")


async def run_cluster_demo(
    venue: VenuePreset,
    *,
    seconds: float | None,
    bots: int,
    host: str,
    json_summary: bool,
    parts: tuple[Part, ...] = PARTS,
) -> dict[str, Any]:
    if bots < 1:
        give_up("a demo needs at least one bot (--bots 1 or more)")
    if not any(part.serves for part in parts):
        give_up("a cluster demo needs a gateway")
    with stop_signals() as stop:
        try:
            with tempfile.TemporaryDirectory(prefix="dreamcommons-cluster-demo-") as scratch:
                summary = await _cluster(venue, stop, Path(scratch), seconds, bots, host, parts)
        except (NatsUnavailable, BrokerUnavailable) as error:
            give_up(str(error))
    _print_summary(summary)
    if json_summary:
        print(json.dumps(summary), flush=True)
    return summary


async def _cluster(
    venue: VenuePreset,
    stop: asyncio.Event,
    scratch: Path,
    seconds: float | None,
    bots: int,
    host: str,
    parts: tuple[Part, ...],
) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(NatsProcess(store_dir=scratch / "nats"))
        print(f"dreamcommons cluster-demo: NATS with JetStream on {nats.url}", flush=True)
        broker = await stack.enter_async_context(MosquittoProcess())
        print(f"dreamcommons cluster-demo: devices on {broker.url} (Mosquitto)", flush=True)
        common = ("--venue", venue.name, "--open", SESSION, "--state-dir", str(scratch / "state"))
        # The first alone (it writes the secret every process shares), then the others at once.
        first = await _start(parts[0], nats, broker, host, common, scratch, stack)
        others = await asyncio.gather(
            *(_start(part, nats, broker, host, common, scratch, stack) for part in parts[1:])
        )
        running = [first, *others]
        for each in running:
            print(f"  {each.part.name:<9} {each.part.role:<8} pid {each.process.pid:<7} "
                  f"{each.web}", flush=True)  # fmt: skip
        nats_cpu = _cpu_seconds(nats.pid)
        serving = [r for r in running if r.part.serves]
        hearing = [r for r in running if r.part.hears_devices]
        _print_addresses(venue, serving, bots)
        fleet = await stack.enter_async_context(
            Fleet.generate(
                broker.url,
                bots if hearing else 0,
                seed=0,
                acceleration=NIGHT_ACCELERATION,
                desynchronized=True,
                ephemeral=True,  # the demo's devices never come back: clear them from the broker
                session=SESSION,  # only the demo's session may pair them
            )
        )
        await _devices_heard(hearing, len(fleet.devices))
        codes = [device.config.pairing_code for device in fleet.devices]

        dreamers = [
            BotDreamer(
                serving[i % len(serving)].url,
                BOT_NAMES[i % len(BOT_NAMES)] + ("" if i < len(BOT_NAMES) else f"-{i}"),
                venue,
                seed=i,
                role="waker" if i % 5 == 4 else "dreamer",
                pairing_code=codes[i] if i < len(codes) else None,
            )
            for i in range(bots)
        ]
        host_key = serving[0].operator_key()
        host_bot = None if venue.harmonize.auto else BotHost(serving[0].url, host_key)
        started = time.monotonic()
        # The watcher's join places the session (one engine claims it) before the bots come.
        leave = asyncio.Event()  # the bots stay until the figures are read, even on a Ctrl-C
        async with DreamClient(serving[0].url, "Archivist", role="watcher") as watcher:
            bots_running = [asyncio.create_task(bot.run(leave), name=bot.name) for bot in dreamers]
            if host_bot is not None:
                bots_running.append(asyncio.create_task(host_bot.run(leave), name="host"))
            await report_until(stop, watcher, seconds, started)
            state = watcher.state
            elapsed = time.monotonic() - started
            figures = await asyncio.gather(*(_figures(r, elapsed) for r in running))
            leave.set()
            results = await asyncio.gather(*bots_running, return_exceptions=True)
        nats_figures = {
            "name": "nats",
            "role": "nats",
            "url": nats.url,
            "cpu_pct": _share(_cpu_seconds(nats.pid) - nats_cpu, elapsed),
            **await asyncio.to_thread(_varz, nats),
        }
    return {
        "venue": venue.name,
        "session": SESSION,
        "seconds": round(elapsed, 1),
        "bots": bots,
        "bots_failed": sum(1 for r in results if isinstance(r, BaseException)),
        "contributions_sent": sum(b.stats.sent for b in dreamers),
        "contributions_accepted": sum(b.stats.accepted for b in dreamers),
        "contributions_refused": sum(b.stats.refused for b in dreamers),
        "devices_paired": sum(1 for b in dreamers if b.stats.paired is not None),
        "samples_lost": sum(each["samples_lost"] for each in figures),
        "seq": state.seq,
        "epoch": state.epoch,
        "motifs": len(state.motifs),
        "processes": [*figures, nats_figures],
    }


async def _start(
    part: Part,
    nats: NatsProcess,
    broker: MosquittoProcess,
    host: str,
    common: tuple[str, ...],
    scratch: Path,
    stack: contextlib.AsyncExitStack,
) -> Running:
    """Start ``part`` and wait until it serves (it printed its operator key); stopped (SIGTERM,
    then SIGKILL) when ``stack`` closes."""
    port = free_port()
    args = ("host", "--host", host, "--port", str(port), *common, "--cluster", nats.url,
            "--role", part.role, "--node", part.name,
            *(("--broker", broker.url) if part.hears_devices else ()), *part.extra)  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dreamcommons",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # stopped by the demo, in order: a Ctrl-C reaches the demo only
    )
    stack.push_async_callback(_stop, process)
    running = Running(part, host, port, process, scratch / f"{part.name}.log")
    out = stack.enter_context(running.log.open("w"))
    try:
        async with asyncio.timeout(_READY_WITHIN_S):
            while not any(line.startswith("operator key:") for line in running.printed):
                line = await _line(process)
                if line is None:
                    raise NatsUnavailable(
                        f"{part.name} ended before it served:\n" + "".join(running.printed)
                    )
                running.printed.append(line)
    except TimeoutError:
        raise NatsUnavailable(f"{part.name} did not serve within {_READY_WITHIN_S:g} s") from None
    out.writelines(running.printed)
    drain = asyncio.get_running_loop().create_task(_drain(process, out))
    stack.callback(drain.cancel)
    running.cpu_at_start = _cpu_seconds(process.pid)
    return running


async def _devices_heard(hearing: list[Running], devices: int) -> None:
    """Until every ingest hears every device online (each hears every birth), so that the
    bots' pairings find them."""
    async with asyncio.timeout(_READY_WITHIN_S):
        for running in hearing:
            while True:
                health = json.loads(await asyncio.to_thread(_get, f"{running.web}/healthz"))
                if health["cluster"]["ingest"]["devices_online"] >= devices:
                    break
                await asyncio.sleep(0.1)


async def _line(process: asyncio.subprocess.Process) -> str | None:
    assert process.stdout is not None
    raw = await process.stdout.readline()
    return raw.decode(errors="replace") if raw else None


async def _drain(process: asyncio.subprocess.Process, out: IO[str]) -> None:
    """Keep what a process prints in its log, so that its pipe never fills."""
    while (line := await _line(process)) is not None:
        out.write(line)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_WITHIN_S)
        except TimeoutError:
            process.kill()
    await process.wait()


async def _figures(running: Running, elapsed: float) -> dict[str, Any]:
    """A process's figures at the end: what its /healthz and /metrics say, and its CPU."""
    health = await asyncio.to_thread(_get, f"{running.web}/healthz")
    metrics = await asyncio.to_thread(_get, f"{running.web}/metrics")
    cluster = json.loads(health)["cluster"]
    text = metrics.decode()
    return {
        "name": running.part.name,
        "role": running.part.role,
        "node": cluster["node"],
        "url": running.web,
        "sessions_owned": cluster["owns"],
        "connections": int(_metric(text, "dreamcommons_cluster_connections")),
        # an ingest's batches sent on to owners; an engine's folded into its sessions
        "batches": int(
            _metric(text, "dreamcommons_cluster_device_batches_routed_total")
            + _metric(text, "dreamcommons_cluster_device_batches_total")
        ),
        "samples_lost": int(_metric(text, "dreamcommons_cluster_device_samples_lost")),
        "cpu_pct": _share(_cpu_seconds(running.process.pid) - running.cpu_at_start, elapsed),
    }


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
        return body


def _metric(text: str, name: str) -> float:
    """A metric without labels from Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        metric, _, value = line.partition(" ")
        if metric == name:
            return float(value)
    return 0.0


def _varz(nats: NatsProcess) -> dict[str, int]:
    """What NATS carried: messages and bytes in (published) and out (delivered)."""
    body = json.loads(_get(f"http://{nats.host}:{nats.monitor_port}/varz"))
    return {key: int(body[key]) for key in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}


def _cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time a process has used so far (Linux' /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _share(cpu: float, elapsed: float) -> float:
    return round(100 * cpu / elapsed, 1) if elapsed > 0 else 0.0


def _print_addresses(venue: VenuePreset, serving: list[Running], bots: int) -> None:
    print(
        f"dreamcommons cluster-demo: {venue.title} with {bots} bot dreamers over "
        f"{len(serving)} gateways",
        flush=True,
    )
    key = serving[0].operator_key()
    for running in serving:
        web = running.web
        print(f"  {running.part.name}:", flush=True)
        print(f"    dreamscape: {web}/s/{SESSION}", flush=True)
        print(f"    watch:      {web}/watch/{SESSION}", flush=True)
        print(f"    host:       {web}/host/{SESSION}#key={key}", flush=True)
        print(f"    session:    {running.url}   (dreamcommons join {running.url} --name You)")
        print(f"    sessions:   {web}/sessions.json", flush=True)


def _print_summary(summary: dict[str, Any]) -> None:
    print("summary:", flush=True)
    for key, value in summary.items():
        if key != "processes":
            print(f"  {key:<24} {value}", flush=True)
    print(
        f"  {'process':<10} {'role':<8} {'owns':<12} {'connections':>11} {'batches':>8} "
        f"{'CPU %':>6}"
    )
    for process in summary["processes"]:
        owns = ",".join(process.get("sessions_owned", [])) or "-"
        connections = process.get("connections", "-")
        batches = process.get("batches", "-")
        print(
            f"  {process['name']:<10} {process['role']:<8} {owns:<12} {connections!s:>11} "
            f"{batches!s:>8} {process['cpu_pct']:>6}",
            flush=True,
        )
