"""The device commands of ``dreamcommons``: ``device`` (one pod or fabric) and ``fleet`` (many).

Both run until Ctrl-C or SIGTERM (or ``--seconds``), then stop cleanly: every device publishes
its ``disconnected`` status before it hangs up. A fleet then leaves for good (it clears its
devices' retained birth and status, and with ``--ha-discovery`` their Home Assistant discovery;
``--keep-retained`` keeps them), a device only with ``--leave``.

The other device commands (``lsl-bridge``) share its broker and pairing options, credentials,
failure message, run loop and signals: ``add_broker_options``, ``add_pairing_options``,
``device_passwords``, ``fail``, ``run_device_until_stopped``, ``stop_signals`` (the demos use
the last too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dreamcommons.contracts.broker_access import read_device_credentials, without_credentials
from dreamcommons.contracts.pairing import format_code
from dreamcommons.firmware_sim.device import (
    MODELS,
    SENSORS,
    DeviceConfig,
    DeviceStats,
    SimulatedDevice,
)
from dreamcommons.firmware_sim.faults import SENSOR_FIELDS, Faults
from dreamcommons.firmware_sim.fleet import Fleet

_DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def add_device_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``device`` and ``fleet`` on the ``dreamcommons`` command line."""
    device = commands.add_parser(
        "device",
        help="run one simulated sleep pod or smart fabric",
        description="Run one simulated device until Ctrl-C; it prints its pairing code.",
    )
    device.add_argument("kind", choices=sorted(MODELS), help="pod or fabric")
    add_broker_options(device)
    add_pairing_options(device)
    device.add_argument(
        "--reset",
        action="store_true",
        help="start factory-reset: a fresh code (not the seed's), whose pairing takes the "
        "device from whoever had it",
    )
    device.add_argument("--id", dest="device_id", help="device id (default: KIND-<6 hex>)")
    device.add_argument(
        "--model", choices=[m for models in MODELS.values() for m in models], help="product"
    )
    device.add_argument("--seed", type=int, default=None, help="physiology seed (random)")
    device.add_argument(
        "--leave",
        action="store_true",
        help="leave for good at exit: clear the retained birth and status from the broker",
    )
    _add_home_assistant(device)
    _add_sampling(device)
    _add_faults(device)
    _add_duration(device)
    device.set_defaults(run=_run_device)

    fleet = commands.add_parser(
        "fleet",
        help="run many simulated devices in one process",
        description="Run COUNT devices (pods and fabric) in one process, one MQTT connection "
        "each, and print a status line every few seconds.",
    )
    fleet.add_argument("--count", type=int, default=100, help="number of devices (100)")
    add_broker_options(fleet)
    fleet.add_argument("--fabric-share", type=float, default=0.3, help="share of fabric (0.3)")
    fleet.add_argument("--seed", type=int, default=0, help="seed of the whole fleet (0)")
    fleet.add_argument(
        "--codes", metavar="FILE", help="write 'device_id kind code' lines here ('-': stdout)"
    )
    fleet.add_argument(
        "--session", metavar="S", help="set up for this session: only it may pair the devices"
    )
    fleet.add_argument(
        "--status-every", type=float, default=5.0, metavar="S", help="seconds between lines (5)"
    )
    fleet.add_argument(
        "--keep-retained",
        action="store_true",
        help="keep the devices' retained birth and status at exit, for a fleet that comes back "
        "(default: a fleet leaves for good and clears them)",
    )
    _add_home_assistant(fleet)
    _add_sampling(fleet)
    _add_faults(fleet)
    _add_duration(fleet)
    fleet.set_defaults(run=_run_fleet)


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        default=_DEFAULT_BROKER,
        help=f"mqtt://[USER:PASSWORD@]HOST:PORT ({_DEFAULT_BROKER})",
    )
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        type=Path,
        help="'device_id password' lines (devices.txt of `dreamcommons broker-config`)",
    )


def add_pairing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pair", metavar="CODE", help="pairing code, 10 of 2-9 A-Z without I L O U (generated)"
    )
    parser.add_argument(
        "--session", metavar="S", help="set up for this session: only it may pair the device"
    )


def device_passwords(args: argparse.Namespace) -> dict[str, str]:
    if args.credentials is None:
        return {}
    try:
        return read_device_credentials(args.credentials)
    except OSError as error:
        raise ValueError(f"cannot read {args.credentials}: {error.strerror}") from None


def _add_home_assistant(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ha-discovery",
        action="store_true",
        help="show up in Home Assistant: MQTT discovery, a JSON state once a second, levels "
        "as number entities (docs/home-assistant.md)",
    )


def _add_sampling(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hz", type=float, default=5.0, help="samples per second (5)")
    parser.add_argument("--batch", type=int, default=5, help="samples per message (5)")
    parser.add_argument(
        "--acceleration", type=float, default=60.0, help="night clock speed (60: a night in 8 min)"
    )


def _add_faults(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("fault switches")
    faults.add_argument("--dropout", type=float, default=0.0, help="P(a batch is not sent)")
    faults.add_argument("--garbage", type=float, default=0.0, help="P(a batch is garbage)")
    faults.add_argument("--clock-skew", type=float, default=0.0, metavar="S", help="seconds")
    faults.add_argument("--stuck-sensor", choices=SENSOR_FIELDS, help="repeats its first value")
    faults.add_argument("--stress-at", type=float, metavar="S", help="stress episode after S s")
    faults.add_argument("--stress-level", type=float, default=0.8, help="0..1 (0.8)")
    faults.add_argument("--stress-duration", type=float, default=120.0, metavar="S", help="(120)")


def _add_duration(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=None, help="default: until Ctrl-C")


def _faults(args: argparse.Namespace) -> Faults:
    return Faults(
        dropout=args.dropout,
        garbage=args.garbage,
        clock_skew_s=args.clock_skew,
        stuck_sensor=args.stuck_sensor,
        stress_at=args.stress_at,
        stress_level=args.stress_level,
        stress_duration_s=args.stress_duration,
    )


def fail(message: str) -> int:
    print(f"dreamcommons: {message}", file=sys.stderr)
    return 2


# --- device ----------------------------------------------------------------------------------


def _run_device(args: argparse.Namespace) -> int:
    try:
        seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
        config = DeviceConfig.generate(
            args.kind,
            seed,
            device_id=args.device_id,
            pairing_code=args.pair,
            model=args.model,
            sample_hz=args.hz,
            batch=args.batch,
            acceleration=args.acceleration,
            session=args.session,
        )
        if args.reset:
            config = config.reset()
        if args.model is not None and args.model not in MODELS[args.kind]:
            raise ValueError(f"{args.model} is not a {args.kind}")
        if args.stuck_sensor is not None and args.stuck_sensor not in SENSORS[args.kind]:
            raise ValueError(f"a {args.kind} has no sensor {args.stuck_sensor!r} to get stuck")
        password = device_passwords(args).get(config.device_id)
        device = SimulatedDevice(
            config,
            args.broker,
            faults=_faults(args),
            password=password,
            ephemeral=args.leave,
            ha_discovery=args.ha_discovery,
        )
    except ValueError as error:
        return fail(str(error))
    return asyncio.run(run_device_until_stopped(device, args.seconds))


async def run_device_until_stopped(device: SimulatedDevice, seconds: float | None) -> int:
    config = device.config
    print(
        f"{config.kind} {config.device_id} ({config.model}, seed {config.seed}) "
        f"on mqtt://{device.host}:{device.port}",
        flush=True,
    )
    bound = f" (for session {config.session})" if config.session else ""
    print(f"pairing code: {format_code(config.pairing_code)}{bound}", flush=True)
    with stop_signals() as stop:
        async with device, asyncio.TaskGroup() as group:
            watcher = group.create_task(_announce(device), name="cli:announce")
            await _until(stop, seconds)
            watcher.cancel()
    print(f"stopped: {_describe(device.stats)}", flush=True)
    return 0


async def _announce(device: SimulatedDevice) -> None:
    """Say each time the device (re)connects."""
    while True:
        await device.connected.wait()
        print(f"connected (bd_seq {device.bd_seq})", flush=True)
        await device.disconnected.wait()
        print("connection lost; reconnecting", flush=True)


# --- fleet -----------------------------------------------------------------------------------


def _run_fleet(args: argparse.Namespace) -> int:
    try:
        fleet = Fleet.generate(
            args.broker,
            args.count,
            fabric_share=args.fabric_share,
            seed=args.seed,
            sample_hz=args.hz,
            batch=args.batch,
            acceleration=args.acceleration,
            faults=_faults(args),
            passwords=device_passwords(args),
            ephemeral=not args.keep_retained,
            session=args.session,
            ha_discovery=args.ha_discovery,
        )
    except ValueError as error:
        return fail(str(error))
    if args.status_every <= 0:
        return fail("--status-every must be positive")
    pods = sum(1 for device in fleet.devices if device.kind == "pod")
    print(
        f"fleet of {len(fleet.devices)} ({pods} pods, {len(fleet.devices) - pods} fabric) "
        f"on {without_credentials(fleet.broker_url)}",
        flush=True,
    )
    if args.codes:
        _write_codes(fleet, args.codes)
    import uvloop  # a thousand devices' MQTT sockets cost half as much to poll and write

    return uvloop.run(_fleet_main(fleet, args.seconds, args.status_every))


def _write_codes(fleet: Fleet, where: str) -> None:
    lines = "".join(
        f"{device.device_id} {device.kind} {format_code(device.config.pairing_code)}\n"
        for device in fleet.devices
    )
    if where == "-":
        print(lines, end="", flush=True)
    else:
        Path(where).write_text(lines)


async def _fleet_main(fleet: Fleet, seconds: float | None, every: float) -> int:
    with stop_signals() as stop:
        async with fleet, asyncio.TaskGroup() as group:
            reporter = group.create_task(_report(fleet, every), name="cli:status")
            await _until(stop, seconds)
            reporter.cancel()
    print(f"stopped: {_describe(fleet.stats().totals)}", flush=True)
    return 0


async def _report(fleet: Fleet, every: float) -> None:
    """One status line every ``every`` seconds: connected devices and messages per second."""
    before, then = fleet.stats().totals, time.monotonic()
    while True:
        await asyncio.sleep(every)
        stats, now = fleet.stats(), time.monotonic()
        rate = (stats.totals.messages - before.messages) / (now - then)
        print(
            f"connected {stats.connected}/{stats.devices}, {rate:.0f} msg/s, "
            f"{stats.totals.samples} samples, {stats.totals.dropped_offline} dropped offline, "
            f"{stats.totals.reconnects} reconnects",
            flush=True,
        )
        before, then = stats.totals, now


# --- shared ----------------------------------------------------------------------------------


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM, for as long as the block runs."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _until(stop: asyncio.Event, seconds: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def _describe(stats: DeviceStats) -> str:
    return (
        f"{stats.messages} messages, {stats.samples} samples, "
        f"{stats.dropped_offline} dropped offline, {stats.commands} commands, "
        f"{stats.reconnects} reconnects"
    )
