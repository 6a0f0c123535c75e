"""The journal's commands: ``dreamcommons replay``, ``export`` (everything, or one participant's
own data on their resume token) and ``erase`` (one participant, on their resume token)."""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
from pathlib import Path
from typing import Any

from dreamcommons.contracts.protocol import Delta, DreamscapeState
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal import (
    JournalError,
    SessionInfo,
    erase_participant,
    export,
    export_nights,
    export_participant,
    journal_participant,
    journal_sessions,
    play,
)


def add_journal_commands(commands: Any) -> None:
    """Add ``replay``, ``export`` and ``erase`` to the ``dreamcommons`` subcommands."""
    replay = commands.add_parser("replay", help="play a journaled session back")
    replay.add_argument("journal", type=Path, help="the journal file (a host's --journal)")
    replay.add_argument("--session", default=None, help="which session (default: the only one)")
    replay.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="times real time (default 1; 0: as fast as can be); with --serve, the pace each"
        " viewer starts at",
    )
    replay.add_argument(
        "--serve",
        action="store_true",
        help="serve it read-only to the watch page (/watch/SESSION), each viewer at their own"
        " place and pace",
    )
    replay.add_argument("--host", default="127.0.0.1", help="with --serve: address to listen on")
    replay.add_argument("--port", type=int, default=8765, help="with --serve: port (0: any free)")
    replay.add_argument(
        "--plain",
        action="store_true",
        help="print what changes, and the last state (the default without --serve)",
    )
    replay.set_defaults(run=_replay)

    out = commands.add_parser(
        "export", help="events as JSON lines and hypnograms, or each sleeper's night (EDF+, YASA)"
    )
    out.add_argument("journal", type=Path, help="the journal file (a host's --journal)")
    out.add_argument("--out", type=Path, required=True, help="directory to write into")
    out.add_argument(
        "--session", default=None, help="one participant's own data: their session (with the token)"
    )
    out.add_argument(
        "--resume-token",
        default=None,
        help="one participant's own data: their resume token, which proves who they are;"
        " write --resume-token=TOKEN (a token may begin with '-'), or '-' to read it from stdin",
    )
    out.add_argument(
        "--format",
        choices=("jsonl", "edf", "yasa"),
        default="jsonl",
        help="jsonl: events.jsonl and a hypnogram CSV per sleeper (the default); edf: an EDF+C"
        " file per sleeper (signals, stages, session events); yasa: a YASA hypnogram per sleeper",
    )
    out.add_argument(
        "--ticks", action="store_true", help="the ticks too (ten a second; left out by default)"
    )
    out.set_defaults(run=_export)

    erase = commands.add_parser(
        "erase", help="erase one participant's contributions, on their resume token"
    )
    erase.add_argument("journal", type=Path, help="the journal file (no server may be running)")
    erase.add_argument("--session", default=None, help="their session (default: the only one)")
    erase.add_argument(
        "--resume-token",
        required=True,
        help="their resume token, which proves who they are; write --resume-token=TOKEN"
        " (a token may begin with '-'), or '-' to read it from stdin",
    )
    erase.set_defaults(run=_erase)


def _replay(args: argparse.Namespace) -> int:
    if args.speed < 0:
        return _fail("--speed must be positive (or 0: as fast as can be)")
    try:
        info = _pick(journal_sessions(args.journal), args.session)
        asyncio.run(_play(args, info, math.inf if args.speed == 0 else args.speed))
    except JournalError as error:
        return _fail(str(error))
    return 0


async def _play(args: argparse.Namespace, info: SessionInfo, speed: float) -> None:
    from dreamcommons.client.plain_view import changes, render
    from dreamcommons.server.replay_server import ReplayServer

    server: ReplayServer | None = None
    printing = args.plain or not args.serve
    venue = info.preset()
    shown = [DreamEngine(venue, info.id).state]  # the last state printed from

    async def sink(state: DreamscapeState, delta: Delta) -> None:
        for line in changes(shown[0], state):
            print(line, flush=True)
        shown[0] = state

    if args.serve:
        server = ReplayServer(
            args.journal, info.id, args.host, args.port, venue=venue, speed=speed, title=venue.title
        )
        print(f"reading {info.id} for its keyframes…", flush=True)
        await server.start()
        print(
            f"replaying {info.id} ({server.duration_s:.0f} s) at {speed:g}x on"
            f" http://{args.host}:{server.port}/watch/{info.id}",
            flush=True,
        )
    try:
        if printing:
            await play(args.journal, info.id, speed, sink, venue=venue)
            print("\n" + render(shown[0]) + "\n", flush=True)  # where the session ended
            print(f"replay of {info.id} ended", flush=True)
        if server is not None:
            await _until_stopped()
    finally:
        if server is not None:
            await server.close()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _pick(sessions: list[SessionInfo], wanted: str | None) -> SessionInfo:
    known = ", ".join(s.id for s in sessions) or "none"
    if wanted is None and len(sessions) == 1:
        return sessions[0]
    if wanted is None:
        raise JournalError(f"which session? --session one of: {known}")
    for info in sessions:
        if info.id == wanted:
            return info
    raise JournalError(f"no session {wanted!r} in the journal (sessions: {known})")


def _export(args: argparse.Namespace) -> int:
    if args.session is not None and args.resume_token is None:
        return _fail(
            "exporting one participant's data needs their --resume-token, which proves who they"
            " are (without --session, the operator exports everything)"
        )
    if args.ticks and args.format != "jsonl":
        return _fail("--ticks goes with --format jsonl (the events)")
    try:
        session = pid = None
        if args.resume_token is not None:
            session, pid = _owner(args)
        if args.format != "jsonl":
            paths = export_nights(args.journal, args.out, args.format, session=session, pid=pid)
        elif session is None or pid is None:
            paths = export(args.journal, args.out, ticks=args.ticks)
        else:
            paths = export_participant(args.journal, args.out, session, pid, ticks=args.ticks)
    except JournalError as error:
        return _fail(str(error))
    for path in paths:
        print(path)
    return 0


def _erase(args: argparse.Namespace) -> int:
    try:
        session, pid = _owner(args)
        erased = erase_participant(args.journal, session, pid)
    except JournalError as error:
        return _fail(str(error))
    print(f"erased {erased} records of {pid} in session {session} (events, seconds of signals)")
    return 0


def _owner(args: argparse.Namespace) -> tuple[str, str]:
    """(session, participant id) of whoever the resume token proves."""
    token = sys.stdin.readline().strip() if args.resume_token == "-" else args.resume_token
    session = _pick(journal_sessions(args.journal), args.session).id
    return session, journal_participant(args.journal, session, token)


def _fail(message: str) -> int:
    print(f"dreamcommons: {message}", file=sys.stderr)
    return 2
