"""``dreamcommons join`` and ``host-console`` as users run them: on a terminal, and in pipes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import sys
import termios
from collections.abc import AsyncIterator

import pytest

from dreamcommons.client.commands import help_lines
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within
from tests.processes import dreamcommons, read_until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def on_a_terminal(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """Run ``dreamcommons ARGS`` on a pseudo-terminal of 120x36; yields it and the pty's fd."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dreamcommons",
        *args,
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(child)
    try:
        yield process, main
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(main)


async def read_screen_until(fd: int, needle: bytes, seconds: float) -> bytes:
    """What the program drew on its terminal, up to the first time ``needle`` appears."""
    loop = asyncio.get_running_loop()
    seen = b""
    async with asyncio.timeout(seconds):
        while needle not in seen:
            ready = asyncio.Event()
            loop.add_reader(fd, ready.set)
            try:
                await ready.wait()
            finally:
                loop.remove_reader(fd)
            seen += os.read(fd, 65536)
    return seen


async def test_join_on_a_terminal_opens_the_textual_app(server_url: str) -> None:
    async with (
        DreamClient(server_url, "Zara") as zara,
        on_a_terminal("join", server_url, "--name", "Lyra") as (app, screen),
    ):
        await read_screen_until(screen, b"joined commons as", within(20))
        await zara.contribute("owl")
        await read_screen_until(screen, b"owl", within(10))
        await zara.wait_for(lambda s: any(p.name == "Lyra" for p in s.participants), within(5))
        os.write(screen, b"\x11")  # Ctrl-Q
        assert await asyncio.wait_for(app.wait(), within(10)) == 0


async def test_the_host_console_in_a_pipe_is_plain_and_needs_the_key(
    dream_server: DreamServer, server_url: str
) -> None:
    key = dream_server.settings.host_key
    async with (
        DreamClient(server_url, "Zara") as zara,
        dreamcommons("host-console", server_url, "--host-key", key) as console,
    ):
        await read_until(console, "joined commons as p2 (host)", within(15))
        assert console.stdin is not None
        console.stdin.write(b"/harmonize\n")
        await console.stdin.drain()
        await zara.wait_for(lambda s: s.scene.harmonizing, within(10))

    async with dreamcommons("host-console", server_url, "--host-key", "wrong") as refused:
        output, _ = await asyncio.wait_for(refused.communicate(), within(15))
    assert refused.returncode == 1
    assert "joining as host needs the session's host key" in output.decode()
    assert "Traceback" not in output.decode()


async def test_a_url_that_is_not_a_websocket_is_a_clear_error() -> None:
    async with dreamcommons("join", "http://127.0.0.1:8765/commons", "--name", "Lyra") as join:
        output, _ = await asyncio.wait_for(join.communicate(), within(15))
    assert join.returncode == 2
    assert "expected a ws:// or wss:// URL" in output.decode()


async def test_join_plain_with_nothing_on_stdin_stays_and_follows_the_dream(
    server_url: str,
) -> None:
    async with (
        DreamClient(server_url, "Zara") as zara,
        dreamcommons(
            "join", server_url, "--name", "Lyra", "--plain", "--refresh", "0.2",
            stdin=asyncio.subprocess.DEVNULL,
        ) as lyra,
    ):  # fmt: skip
        seen = await read_until(lyra, "joined commons as", within(15))
        await zara.contribute("owl")
        seen += await read_until(lyra, "owl", within(10))
        assert lyra.returncode is None
        assert "Traceback" not in seen
        assert "PermissionError" not in seen


async def test_join_plain_carries_out_commands_from_a_pipe_then_follows_the_dream(
    dream_server: DreamServer, server_url: str
) -> None:
    async with (
        DreamClient(server_url, "Zara") as zara,
        dreamcommons("join", server_url, "--name", "Lyra", "--plain", "--refresh", "0.2") as lyra,
    ):
        assert lyra.stdin is not None
        typed = (
            b"/feel calm\nmoon 0.9\n/share 0.5 stage\n/w the tide turns\n/me\n/help\n/nonsense\n"
        )
        lyra.stdin.write(typed)
        await lyra.stdin.drain()
        lyra.stdin.close()  # the end of input: it carries on watching
        seen = await read_until(lyra, "joined commons as", within(15))
        seen += await read_until(lyra, "sharing 50% of your dream and your sleep stage", within(10))
        about = await read_until(lyra, "your resume token is", within(10))
        seen += about + await read_until(lyra, "! unknown command /nonsense", within(10))
        state = await zara.wait_for(
            lambda s: (
                any(m.name == "moon" for m in s.motifs)
                and any(w.text == "the tide turns" for w in s.whispers)
            ),
            within(10),
        )
        me = next(p.id for p in state.participants if p.name == "Lyra")
        member = dream_server.sessions["commons"].engine._participants[me]
        assert (member.share, member.show_stage) == (0.5, True)
        token = dream_server.sessions["commons"].member(me).resume_token  # type: ignore[union-attr]
        assert f"your resume token is {token}:" in about
        assert f"--session commons --resume-token={token}" in about
        await zara.contribute("owl")
        seen += await read_until(lyra, "owl", within(10))
        assert lyra.returncode is None
        assert "your next motifs feel calm" in seen
        assert all(line in seen for line in help_lines("dreamer"))  # /help: a line a command
        assert "Traceback" not in seen
