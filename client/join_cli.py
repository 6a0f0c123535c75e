"""``dreamcommons join URL --name NAME``: follow a session as text and type contributions.

Input lines:  ``moon``  or  ``moon 0.9``  raise a motif (with an intensity);
``/private moon`` keeps one to yourself;  ``/w some words`` whispers;
``/share 0.5`` sets how much of your dream others see;  ``/pair CODE`` claims a device;
as host: ``/start``, ``/pause``, ``/resume``, ``/advance``, ``/end``, ``/harmonize``,
``/remove p3``, ``/invite watcher 12`` (an invitation for 12 hours);  ``/quit`` leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import DreamClientError, JoinRefused
from dreamcommons.client.plain_view import render
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import Encoding, Role

HELP = (
    "type a motif (e.g. 'moon 0.8'), '/w words' to whisper, '/share 0.5', '/private moon', "
    "'/pair CODE', '/quit' to leave"
)
HOST_ACTIONS = ("start", "pause", "resume", "advance", "end", "harmonize", "remove")


async def run_join(
    url: str,
    name: str,
    role: Role | None,
    encoding: Encoding,
    refresh: float,
    key: str | None = None,
    *,
    code: str | None = None,
    token: str | None = None,
) -> int:
    try:
        async with DreamClient(
            url, name, role=role, encoding=encoding, key=key, code=code, token=token
        ) as dream:
            await _follow(dream, refresh)
    except JoinRefused as refused:
        print(f"dreamcommons: not let in: {refused}", file=sys.stderr)
        if refused.code in (ErrorCode.INVITATION_REQUIRED, ErrorCode.BAD_INVITATION):
            print(
                "  ask the host for the session's join code (--code) or an invitation (--token)",
                file=sys.stderr,
            )
        return 1
    except (OSError, ValueError) as error:
        print(f"dreamcommons: cannot join {url}: {error}", file=sys.stderr)
        return 1
    return 0


async def _follow(dream: DreamClient, refresh: float) -> None:
    print(f"joined {dream.session} as {dream.participant} ({dream.role}). {HELP}", flush=True)
    lines: asyncio.Queue[str | None] = asyncio.Queue(maxsize=64)
    typing = asyncio.create_task(_read_stdin_into(lines), name="stdin")
    viewer = asyncio.create_task(_show(dream, refresh), name="plain-view")
    try:
        while (line := await lines.get()) is not None:
            if not await _act(dream, line.strip()):
                break
        else:
            await viewer  # stdin closed: keep watching until the session or Ctrl-C ends it
    finally:
        for task in (typing, viewer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _act(dream: DreamClient, line: str) -> bool:
    """Carry out one typed line; False when the user wants to leave."""
    if not line:
        return True
    command, _, rest = line.partition(" ")
    try:
        if command in ("/quit", "/q"):
            return False
        if command == "/w":
            await dream.whisper(rest)
        elif command == "/share":
            await dream.share(float(rest))
        elif command == "/pair":
            paired = await dream.pair_device(rest.strip().upper())
            print(f"paired {paired.device} ({paired.model})", flush=True)
        elif command == "/invite":
            role, _, hours = rest.strip().partition(" ")
            invitation = await dream.invite(
                role or "dreamer",  # type: ignore[arg-type]
                float(hours or 24) * 3600,
            )
            print(f"invitation for a {invitation.role}: {invitation.token}", flush=True)
        elif command.startswith("/") and command[1:] in HOST_ACTIONS:
            await dream.host(command[1:], rest.strip() or None)  # type: ignore[arg-type]
        elif command == "/private":
            await dream.contribute(rest.strip().lower(), private=True)
        elif command.startswith("/"):
            print(f"! unknown command {command}. {HELP}", flush=True)
        else:
            intensity = float(rest.split()[0]) if rest.strip() else 0.7
            await dream.contribute(command.lower(), intensity=intensity)
    except (DreamClientError, ValueError) as error:
        print(f"! {error}", flush=True)
    return True


async def _show(dream: DreamClient, refresh: float) -> None:
    shown = -1
    async for state in dream.states():
        if state.seq - shown >= refresh * dream.tick_hz:
            shown = state.seq
            print(render(state, me=dream.participant) + "\n", flush=True)


async def _read_stdin_into(lines: asyncio.Queue[str | None]) -> None:
    """Feed typed lines to the queue; ``None`` marks the end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):  # a regular file or no stdin at all: read it whole
        for line in () if sys.stdin is None or sys.stdin.closed else sys.stdin.readlines():
            await lines.put(line)
        await lines.put(None)
        return
    while line := await reader.readline():
        await lines.put(line.decode(errors="replace"))
    await lines.put(None)
