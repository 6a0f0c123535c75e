"""Child processes for tests and bench/: a free port, ``dreamcommons`` run for real, and an end
that is always the same (a signal, a grace time, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path


def host_command(
    port: int, journal: Path | None = None, *, private: str | None = None
) -> list[str]:
    """The argv of ``python -m dreamcommons host`` on ``port``: every session open, or only the
    ``private`` session, behind its join code; journaled to ``journal`` when given."""
    command = [sys.executable, "-m", "dreamcommons", "host", "--port", str(port)]
    command += ["--open", "*"] if private is None else ["--session", private]
    return command if journal is None else [*command, "--journal", str(journal)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def dreamcommons(
    *args: str, stdin: int = asyncio.subprocess.PIPE, own_group: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``dreamcommons ARGS`` with pipes (or ``stdin``, e.g. ``asyncio.subprocess.DEVNULL``);
    terminated (then killed) on exit, always. ``own_group``: in a process group (and session)
    of its own, as a terminal's foreground job is, so that ``os.killpg`` plays a Ctrl-C."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dreamcommons",
        *args,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=own_group,
    )
    try:
        yield process
    finally:
        await end(process)


async def end(
    process: asyncio.subprocess.Process,
    grace: float = 5.0,
    sig: signal.Signals = signal.SIGTERM,
) -> None:
    """Send ``sig`` (SIGTERM: stop cleanly), wait ``grace`` seconds, then SIGKILL; always reaped."""
    if process.returncode is None:
        process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
    await process.wait()


async def read_until(process: asyncio.subprocess.Process, needle: str, seconds: float) -> str:
    """Everything the process printed up to and including the first line containing ``needle``."""
    assert process.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"process ended before {needle!r}:\n{''.join(seen)}")
            seen.append(line)
            if needle in line:
                return "".join(seen)
