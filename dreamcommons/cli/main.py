"""The ``dreamcommons`` command: host, join, host-console, demo, cluster-demo."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dreamcommons.contracts.errors import VenueError
from dreamcommons.contracts.protocol import SESSION_ID_PATTERN, Encoding
from dreamcommons.contracts.venues import VenuePreset, available_venues, load_venue
from dreamcommons.server.settings import SERVER_NAME_PATTERN, ServerSettings

_LOG_LEVELS = {"host": logging.INFO}
SESSION_NAME = re.compile(SESSION_ID_PATTERN)
SERVER_NAME = re.compile(SERVER_NAME_PATTERN)


def configure_logging(command: str, *, verbose: bool) -> None:
    """The command's log level (DEBUG with ``--verbose``). websockets' own INFO lines, one for
    every connection opened and one for every connection closed, without an address, are left
    out unless verbose (the gateway says who joined): with 2,000 arriving at once, logging
    was a tenth of the server's time in seating them."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else _LOG_LEVELS.get(command, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("websockets").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.command, verbose=args.verbose)
    try:
        return int(args.run(args))
    except VenueError as error:
        print(f"dreamcommons: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamcommons",
        description="Host, join and watch collective dream sessions; run simulated devices.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)

    host = commands.add_parser("host", help="host dream sessions over WebSocket")
    host.add_argument(
        "--venue",
        default=None,
        help=f"venue of the sessions not named with one ({', '.join(available_venues())})",
    )
    host.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    host.add_argument("--port", type=int, default=None, help="port (default 8765)")
    host.add_argument("--broker", default=None, help="mqtt://HOST:PORT of the device broker")
    host.add_argument(
        "--server-name",
        default=None,
        type=_server_name,
        help="this server's name on the broker: its status is "
        "dreamcommons/v1/servers/NAME/status (default main)",
    )
    host.add_argument(
        "--ha-discovery",
        action="store_true",
        default=None,
        help="show each session to Home Assistant (MQTT discovery; aggregates only, "
        "docs/home-assistant.md)",
    )
    host.add_argument(
        "--session",
        dest="sessions",
        action="append",
        type=_session_and_venue,
        default=None,
        metavar="SESSION[=VENUE]",
        help="print this session's join code and host secret, and give it a venue "
        "(repeatable: --session commons=sleep-commons --session festival=harmony-festival; "
        "default: commons)",
    )
    host.add_argument(
        "--open",
        dest="open_sessions",
        action="append",
        default=None,
        metavar="SESSION",
        help="let anyone join SESSION without a code (repeatable; '*' opens every session)",
    )
    host.add_argument(
        "--journal", default=None, help="SQLite journal file: sessions survive a crash or restart"
    )
    host.add_argument(
        "--state-dir",
        default=None,
        help="where the secret and the operator key are kept across restarts "
        "(default: beside the journal, else $XDG_STATE_HOME/dreamcommons)",
    )
    host.add_argument(
        "--ephemeral-secret",
        action="store_true",
        default=None,
        help="keep no secret: join codes, invitation links, the operator key and resumes "
        "stop working when the server stops",
    )
    host.add_argument(
        "--cluster",
        default=None,
        help="nats://HOST:PORT: join the cluster on that NATS (docs/cluster.md)",
    )
    host.add_argument(
        "--role",
        choices=("all", "gateway", "engine", "ingest"),
        default=None,
        help="in a cluster: gateway (WebSockets), engine (owns sessions), ingest (the devices "
        "on --broker) or all (default; with --broker, an ingest too)",
    )
    host.add_argument(
        "--node",
        default=None,
        type=_server_name,
        help="this process's name in the cluster (default: the server name)",
    )
    host.set_defaults(run=_host)

    command = commands.add_parser("command", help="send one command to a device, await its ack")
    command.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    command.add_argument("device", help="device id, e.g. pod-lyra")
    command.add_argument(
        "action", choices=["light", "sound", "pace", "warmth", "pressure"], help="what it does"
    )
    command.add_argument("value", type=float, nargs="?", default=None, help="0..1, or Hz for pace")
    command.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the ack")
    command.set_defaults(run=_command)

    join = commands.add_parser("join", help="join a session and follow the dreamscape")
    join.add_argument("url", help="ws://HOST:PORT/SESSION")
    join.add_argument("--name", required=True, help="your name as the others see it (1-32)")
    join.add_argument(
        "--role",
        choices=["dreamer", "waker", "watcher", "host"],
        default=None,
        help="default: the invitation's role, else dreamer",
    )
    join.add_argument("--key", default=None, help="the host secret, with --role host")
    join.add_argument("--code", default=None, help="the session's join code")
    join.add_argument("--token", default=None, help="an invitation from the session's host")
    join.add_argument("--json", action="store_true", help="speak the JSON encoding")
    join.add_argument(
        "--refresh", type=float, default=2.0, help="seconds between views (--plain only)"
    )
    join.add_argument(
        "--plain",
        action="store_true",
        help="plain text view for scripts and dumb terminals (the default without a terminal)",
    )
    join.set_defaults(run=_join)

    console = commands.add_parser("host-console", help="the host's terminal console of a session")
    console.add_argument("url", help="ws://HOST:PORT/SESSION")
    console.add_argument(
        "--host-key",
        default=os.environ.get("DREAMCOMMONS_HOST_KEY"),
        required="DREAMCOMMONS_HOST_KEY" not in os.environ,
        help="the key the host printed (default: $DREAMCOMMONS_HOST_KEY)",
    )
    console.add_argument("--name", default="Host", help="the host's name as others see it")
    console.add_argument("--json", action="store_true", help="speak the JSON encoding")
    console.add_argument("--plain", action="store_true", help="plain text view and typed commands")
    console.add_argument("--refresh", type=float, default=2.0, help="seconds between plain views")
    console.set_defaults(run=_host_console)

    demo = commands.add_parser("demo", help="a whole session with bot dreamers, in one process")
    _add_demo_session_options(demo)
    demo.add_argument("--bots", type=int, default=8, help="bot dreamers, each with a device (8)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    demo.add_argument("--json", action="store_true", help="end with one JSON summary line")
    demo.add_argument(
        "--broker",
        default=None,
        help="mqtt://HOST:PORT of the device broker, used when it answers, else a Mosquitto "
        "of the demo's own (default: $DREAMCOMMONS_BROKER, else mqtt://127.0.0.1:1883)",
    )
    demo.add_argument(
        "--speed", type=float, default=3.0, help="how much faster the bodies breathe (3)"
    )
    demo.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="keep the demo's night in this journal, to replay or export (EDF+, YASA)",
    )
    demo.set_defaults(run=_demo)

    cluster_demo = commands.add_parser(
        "cluster-demo",
        help="a cluster on this machine (NATS, two engines, two gateways, two ingests) with bot "
        "dreamers and their devices",
    )
    _add_demo_session_options(cluster_demo)
    cluster_demo.add_argument(
        "--bots", type=int, default=8, help="bot dreamers, spread over the gateways (8)"
    )
    cluster_demo.add_argument(
        "--host", default="127.0.0.1", help="address the gateways listen on (127.0.0.1)"
    )
    cluster_demo.add_argument("--json", action="store_true", help="end with one JSON summary line")
    cluster_demo.set_defaults(run=_cluster_demo)

    from dreamcommons.cli.broker_config import add_broker_config_command
    from dreamcommons.cli.journal import add_journal_commands
    from dreamcommons.firmware_sim.cli import add_device_commands
    from dreamcommons.lsl_bridge.cli import add_lsl_bridge_command

    add_device_commands(commands)
    add_lsl_bridge_command(commands)
    add_broker_config_command(commands)
    add_journal_commands(commands)
    return parser


def _add_demo_session_options(parser: argparse.ArgumentParser) -> None:
    """A demo's venue and how long it runs: the same for both demos."""
    parser.add_argument(
        "--venue",
        default="sleep-commons",
        help=f"the session's venue ({', '.join(available_venues())}; default sleep-commons)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="how long (default: until Ctrl-C)"
    )


def _host(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in vars(args).items() if k in _HOST_SETTINGS and v is not None}
    named = args.sessions or [("commons", None)]
    overrides["session_venues"] = {session: venue for session, venue in named if venue}
    from pydantic import ValidationError

    from dreamcommons.server.kept_secrets import SecretUnavailable, keep_secrets

    try:
        kept = keep_secrets(ServerSettings(**overrides))
    except SecretUnavailable as error:
        print(f"dreamcommons: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            message = str(problem["msg"]).removeprefix("Value error, ")
            print(f"dreamcommons: {where + ': ' if where else ''}{message}", file=sys.stderr)
        return 2
    settings = kept.settings
    if kept.note is not None:
        print(kept.note, flush=True)
    venue = load_venue(settings.venue)
    serving = _serve(settings, venue, [session for session, _ in named])
    try:
        if settings.event_loop == "uvloop":
            import uvloop  # its transports write and poll for a thousand sockets at half the cost

            uvloop.run(serving)
        else:
            asyncio.run(serving)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"dreamcommons: {settings.host}:{settings.port} is already in use (another "
            "dreamcommons host?); stop that one, or choose another port with --port",
            file=sys.stderr,
        )
        return 2
    return 0


_HOST_SETTINGS = (
    "venue",
    "host",
    "port",
    "broker",
    "server_name",
    "ha_discovery",
    "open_sessions",
    "journal",
    "state_dir",
    "ephemeral_secret",
    "cluster",
    "role",
    "node",
)


async def _serve(settings: ServerSettings, venue: VenuePreset, sessions: list[str]) -> None:
    from dreamcommons.server.access_banner import session_banner
    from dreamcommons.server.collector import keep_full_collections_short
    from dreamcommons.server.gateway import DreamServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with DreamServer(settings, venue) as server:
        print(
            f"hosting on ws://{settings.host}:{server.port}/SESSION "
            f"(for example ws://{settings.host}:{server.port}/{sessions[0]}); "
            f"sessions not named below are of {server.venue.title}",
            flush=True,
        )
        print(f"operator key: {settings.host_key}  (the host key of every session)", flush=True)
        address = f"{settings.host}:{server.port}"
        print(session_banner(server.gatekeeper, address, sessions, server.venue_of), flush=True)
        keep_full_collections_short()
        await stop.wait()
        print("shutting down", flush=True)


def _server_name(text: str) -> str:
    if not SERVER_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a server name (a-z, 0-9, -; 1 to 48)")
    return text


def _session_and_venue(text: str) -> tuple[str, str | None]:
    """``commons`` or ``festival=harmony-festival``, checked: a session's name, a known venue."""
    session, _, venue = text.partition("=")
    if not SESSION_NAME.fullmatch(session):
        raise argparse.ArgumentTypeError(f"{session!r} is not a session name (a-z, 0-9, -)")
    if venue and venue not in available_venues():
        known = ", ".join(available_venues())
        raise argparse.ArgumentTypeError(f"no venue {venue!r} (known: {known})")
    return session, venue or None


def _command(args: argparse.Namespace) -> int:
    from dreamcommons.server.devices.send_command import send_command

    return asyncio.run(send_command(args.broker, args.device, args.action, args.value, args.wait))


def _join(args: argparse.Namespace) -> int:
    from dreamcommons.client.dream_client import split_url

    try:
        split_url(args.url)
    except ValueError as error:
        print(f"dreamcommons: {error}", file=sys.stderr)
        return 2
    encoding = Encoding.JSON if args.json else Encoding.MSGPACK
    if args.plain or not _interactive():
        from dreamcommons.client.errors import DreamClientError
        from dreamcommons.client.join_cli import run_join

        try:
            return asyncio.run(
                run_join(
                    args.url,
                    args.name,
                    args.role,
                    encoding,
                    args.refresh,
                    args.key,
                    code=args.code,
                    token=args.token,
                )
            )
        except (DreamClientError, OSError) as error:
            print(f"dreamcommons: {error}", file=sys.stderr)
            return 1
    from dreamcommons.client.tui.app import DreamApp
    from dreamcommons.contracts.tokens import peek_role

    role = args.role or (peek_role(args.token) if args.token else None) or "dreamer"
    url = _with_access(args.url, args.code, args.token)
    app = DreamApp(url, args.name, role=role, key=args.key, encoding=encoding)
    app.run()
    return app.return_code or 0


def _with_access(url: str, code: str | None, token: str | None) -> str:
    """The URL carrying the join code and the invitation given as flags (the client reads
    them from ``?code=`` and ``?token=``)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: v for k, v in (("code", code), ("token", token)) if v})
    return urlunsplit(parts._replace(query=urlencode(query)))


def _host_console(args: argparse.Namespace) -> int:
    args.role = "host"
    args.key = args.host_key
    args.code = args.token = None
    return _join(args)


def _interactive() -> bool:
    """Both ends are a terminal: the Textual app can draw and read keys."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _demo(args: argparse.Namespace) -> int:
    from dreamcommons.cli.demo import DEFAULT_BROKER, run_demo

    venue = load_venue(args.venue)
    broker = args.broker or ServerSettings().broker or DEFAULT_BROKER  # as `host` reads it
    asyncio.run(
        run_demo(
            venue,
            seconds=args.seconds,
            bots=args.bots,
            host=args.host,
            port=args.port,
            json_summary=args.json,
            broker=broker,
            speed=args.speed,
            journal=args.journal,
        )
    )
    return 0


def _cluster_demo(args: argparse.Namespace) -> int:
    from dreamcommons.cli.cluster_demo import run_cluster_demo

    asyncio.run(
        run_cluster_demo(
            load_venue(args.venue),
            seconds=args.seconds,
            bots=args.bots,
            host=args.host,
            json_summary=args.json,
        )
    )
    return 0
