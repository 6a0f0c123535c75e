"""``dreamcommons broker-config``: write a locked-down Mosquitto configuration for a fleet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamcommons.server.broker_config import write_broker_config


def add_broker_config_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    config = commands.add_parser(
        "broker-config",
        help="write a Mosquitto config: passwords and an ACL confining each device to itself",
        description="Write mosquitto.conf, passwords, acl, devices.txt, server.env and "
        "home-assistant.txt into "
        "DIR. Devices: --devices N names the N devices that `dreamcommons fleet --count N` "
        "runs with the same --seed and --fabric-share; --device and --device-list add more.",
    )
    config.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="directory to write the files into"
    )
    config.add_argument("--devices", type=int, default=0, metavar="N", help="fleet devices")
    config.add_argument("--seed", type=int, default=0, help="the fleet's seed (0)")
    config.add_argument("--fabric-share", type=float, default=0.3, help="as the fleet's (0.3)")
    config.add_argument("--device", action="append", default=[], metavar="ID", help="one device")
    config.add_argument("--device-list", type=Path, metavar="FILE", help="one device id a line")
    config.add_argument("--listen", default="127.0.0.1", help="listener address (127.0.0.1)")
    config.add_argument("--port", type=int, default=1883, help="listener port (1883)")
    config.set_defaults(run=run_broker_config)


def device_ids(args: argparse.Namespace) -> list[str]:
    from pydantic import TypeAdapter, ValidationError

    from dreamcommons.contracts.device_protocol import DeviceId
    from dreamcommons.firmware_sim.fleet import fleet_configs

    ids: list[str] = []
    if args.devices:
        ids += [
            c.device_id
            for c in fleet_configs(args.devices, seed=args.seed, fabric_share=args.fabric_share)
        ]
    ids += args.device
    if args.device_list is not None:
        ids += [line.strip() for line in args.device_list.read_text().splitlines() if line.strip()]
    valid: TypeAdapter[str] = TypeAdapter(DeviceId)
    for device_id in ids:
        try:
            valid.validate_python(device_id)
        except ValidationError:
            raise ValueError(f"{device_id!r} is not a device id") from None
    if not ids:
        raise ValueError("name the devices: --devices N, --device ID or --device-list FILE")
    return ids


def run_broker_config(args: argparse.Namespace) -> int:
    try:
        ids = device_ids(args)
        written = write_broker_config(args.out, ids, host=args.listen, port=args.port)
    except (ValueError, OSError) as error:
        print(f"dreamcommons: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written.directory}: mosquitto.conf, passwords, acl ({len(ids)} devices)")
    print(f"  broker:   mosquitto -c {written.conf}")
    print(f"  server:   set -a; . {written.directory / 'server.env'}; dreamcommons host ...")
    print(
        f"  devices:  dreamcommons fleet --count {args.devices or len(ids)} --seed {args.seed} "
        f"--broker mqtt://{args.listen}:{args.port} "
        f"--credentials {written.directory / 'devices.txt'}"
    )
    print(f"  Home Assistant's MQTT integration: {written.directory / 'home-assistant.txt'}")
    return 0
