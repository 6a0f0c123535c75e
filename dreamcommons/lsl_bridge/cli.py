"""``dreamcommons lsl-bridge``: the wearable streaming LSL on this machine, as one device.

It confines Lab Streaming Layer to this machine (``loopback``) before pylsl is imported, finds
the streams, prints what it found and the pairing code, and runs the device until Ctrl-C or
SIGTERM (or ``--seconds``), as ``dreamcommons device`` runs a simulated one.
"""

from __future__ import annotations

import argparse
import asyncio
import random

from dreamcommons.contracts.pairing import new_code
from dreamcommons.firmware_sim.cli import (
    add_broker_options,
    add_pairing_options,
    device_passwords,
    fail,
    run_device_until_stopped,
)
from dreamcommons.firmware_sim.device import DeviceConfig
from dreamcommons.lsl_bridge.defaults import DEFAULT_STALE_AFTER_S
from dreamcommons.lsl_bridge.loopback import (
    ConfinementFailed,
    confine_to_this_machine,
    stays_on_this_machine,
)

_KINDS_OF_STREAM = "EEG, ECG, PPG, heart rate, respiration or accelerometer"


def add_lsl_bridge_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``lsl-bridge`` on the ``dreamcommons`` command line."""
    bridge = commands.add_parser(
        "lsl-bridge",
        help="run a wearable that streams Lab Streaming Layer on this machine as a device",
        description=f"Find the {_KINDS_OF_STREAM} streams on this machine (Lab Streaming "
        "Layer, confined to loopback) and run them as one device until Ctrl-C; it prints its "
        "pairing code.",
    )
    add_broker_options(bridge)
    add_pairing_options(bridge)
    bridge.add_argument(
        "--id", dest="device_id", help="device id (default: wearable-<6 hex of the streams>)"
    )
    bridge.add_argument(
        "--name", metavar="NAME", help="only the streams of this LSL name (e.g. Muse)"
    )
    bridge.add_argument(
        "--wait", type=float, default=2.0, metavar="S", help="seconds to look for streams (2)"
    )
    bridge.add_argument(
        "--stale-after",
        type=float,
        default=DEFAULT_STALE_AFTER_S,
        metavar="S",
        help=f"a stream silent this long makes its readings stale ({DEFAULT_STALE_AFTER_S:g})",
    )
    bridge.add_argument("--hz", type=float, default=5.0, help="readings per second (5)")
    bridge.add_argument("--batch", type=int, default=5, help="readings per message (5)")
    bridge.add_argument(
        "--leave",
        action="store_true",
        help="leave for good at exit: clear the retained birth and status from the broker",
    )
    bridge.add_argument("--seconds", type=float, default=None, help="default: until Ctrl-C")
    bridge.set_defaults(run=_run_bridge)


def _run_bridge(args: argparse.Namespace) -> int:
    try:
        config_file = confine_to_this_machine()
    except ConfinementFailed as error:
        return fail(str(error))
    if not stays_on_this_machine(config_file):
        print(f"note: {config_file} may look for streams beyond this machine", flush=True)
    from dreamcommons.lsl_bridge.streams import find_streams  # pylsl, now that it is confined
    from dreamcommons.lsl_bridge.wearable import LslWearable, wearable_id, wearable_model

    named = f" named {args.name}" if args.name else ""
    print(f"looking for LSL streams{named} on this machine ({config_file})", flush=True)
    readers = find_streams(args.name, args.wait)
    if not readers:
        print(f"dreamcommons: no {_KINDS_OF_STREAM} stream{named} found", flush=True)
        return 1
    for role, reader in readers.items():
        print(f"  {role}: {reader.label} at {reader.fs:g} Hz", flush=True)
    try:
        config = DeviceConfig(
            device_id=args.device_id or wearable_id(readers),
            kind="wearable",
            model=wearable_model(readers),
            seed=random.SystemRandom().getrandbits(32),
            pairing_code=args.pair or new_code(),
            sample_hz=args.hz,
            batch=args.batch,
            session=args.session,
        )
        device = LslWearable(
            config,
            args.broker,
            readers,
            stale_after_s=args.stale_after,
            password=device_passwords(args).get(config.device_id),
            ephemeral=args.leave,
        )
    except ValueError as error:
        return fail(str(error))
    return asyncio.run(run_device_until_stopped(device, args.seconds))
