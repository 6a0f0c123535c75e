"""``dreamcommons join URL --name NAME --plain``: follow a session as text and type commands.

The typed lines are the terminal client's (``client/commands.py``, one parser for both): a
motif (``moon 0.9``), ``/w words``, ``/feel calm``, ``/share 0.5 stage``, ``/pair CODE``, the
host's ``/harmonize`` or ``/invite watcher 12``, ``/quit``. Standard input may be a terminal, a
pipe, a file or nothing (``< /dev/null``): it is read to its end, each line carried out, and then
the view goes on following the dreamscape until the session ends or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys

from dreamcommons.client.actions import about_me, carry_out
from dreamcommons.client.commands import (
    FEELINGS,
    Quit,
    SetFeeling,
    ShowHelp,
    ShowMe,
    help_lines,
    hint,
    parse,
)
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import DreamClientError, JoinRefused
from dreamcommons.client.plain_view import render
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import Encoding, Role


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
    print(
        f"joined {dream.session} as {dream.participant} ({dream.role}). {hint(dream.role)}",
        flush=True,
    )
    lines: asyncio.Queue[str | None] = asyncio.Queue(maxsize=64)
    typing = asyncio.create_task(_read_stdin_into(lines), name="stdin")
    viewer = asyncio.create_task(_show(dream, refresh), name="plain-view")
    typist = _Typist(dream)
    try:
        while (line := await lines.get()) is not None:
            if not await typist.act(line):
                break
        else:
            await viewer  # stdin ended: keep watching until the session or Ctrl-C ends it
    finally:
        for task in (typing, viewer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Typist:
    """Carries out typed lines one by one, remembering the emotion the next motifs carry."""

    def __init__(self, dream: DreamClient) -> None:
        self.dream = dream
        self.feeling = FEELINGS[0]

    async def act(self, line: str) -> bool:
        """Carry out one typed line; False when the user wants to leave."""
        try:
            command = parse(line, self.dream.role)
            match command:
                case None:
                    pass
                case Quit():
                    return False
                case ShowHelp():
                    _say("\n".join(help_lines(self.dream.role)))
                case ShowMe():
                    dream = self.dream
                    _say(about_me(dream.name, dream.participant, dream.session, dream.resume_token))
                case SetFeeling(feeling=feeling):
                    self.feeling = feeling
                    _say(f"your next motifs feel {feeling.describe()}")
                case _:
                    _say((await carry_out(self.dream, command, self.feeling)).note)
        except (DreamClientError, TimeoutError) as error:
            _say(f"! {error or 'no answer from the server'}")
        return True


def _say(text: str) -> None:
    print(text, flush=True)


async def _show(dream: DreamClient, refresh: float) -> None:
    shown = -1
    async for state in dream.states():
        if state.seq - shown >= refresh * dream.tick_hz:
            shown = state.seq
            print(render(state, me=dream.participant) + "\n", flush=True)


async def _read_stdin_into(lines: asyncio.Queue[str | None]) -> None:
    """Feed typed lines to the queue; ``None`` marks the end of input."""
    if not _streams(sys.stdin):  # a file, /dev/null, or no stdin at all: read it whole, now
        whole = () if sys.stdin is None or sys.stdin.closed else sys.stdin.readlines()
        for line in whole:
            await lines.put(line)
        await lines.put(None)
        return
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        await lines.put(line.decode(errors="replace"))
    await lines.put(None)


def _streams(stdin: object) -> bool:
    """Whether ``stdin`` is something the event loop can wait on: a terminal, a pipe, a socket.
    (Regular files and devices like ``/dev/null`` cannot be: epoll refuses them.)"""
    if stdin is None or getattr(stdin, "closed", True):
        return False
    try:
        fd = stdin.fileno()  # type: ignore[attr-defined]
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return os.isatty(fd) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
