"""``dreamcommons host`` as a child process that a test can kill, restart and read the logs of."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from tests.conftest import within
from tests.processes import end

# These tests load the server on purpose: the per-participant contribution rate is not theirs
# to test (tests/security does that).
UNLIMITED_CONTRIBUTIONS = {
    "DREAMCOMMONS_CONTRIBUTIONS_PER_S": "100000",
    "DREAMCOMMONS_CONTRIBUTION_BURST": "100000",
}


class HostProcess:
    """One run of ``dreamcommons host``; its output is collected line by line in ``lines``."""

    def __init__(self, port: int, journal: Path | None, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.journal = journal
        self.env = {**os.environ, **UNLIMITED_CONTRIBUTIONS, **(env or {})}
        self.lines: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self._seen = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        args = ["host", "--port", str(self.port), "--open", "*"]
        if self.journal is not None:
            args += ["--journal", str(self.journal)]
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dreamcommons",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
        )
        self._drain = asyncio.get_running_loop().create_task(self._read(), name="host-output")
        await self.wait_for_line("hosting", within(20))

    async def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            async with self._seen:
                self.lines.append(line.decode(errors="replace"))
                self._seen.notify_all()

    async def wait_for_line(self, needle: str, seconds: float) -> str:
        """The first line of the output containing ``needle``, waiting for it if need be."""
        async with asyncio.timeout(seconds), self._seen:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self._process is None or self._process.returncode is not None:
                    raise AssertionError(f"host ended before {needle!r}:\n{self.output}")
                await self._seen.wait()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def kill(self) -> None:
        """SIGKILL: no chance to flush, close or say goodbye."""
        await self._end(signal.SIGKILL)

    async def stop(self) -> None:
        await self._end(signal.SIGTERM)

    async def _end(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None:
            return
        await end(process, within(10), sig)
        if self._drain is not None:
            await self._drain


@contextlib.asynccontextmanager
async def host_process(
    port: int, journal: Path | None, env: dict[str, str] | None = None
) -> AsyncIterator[HostProcess]:
    """A started ``HostProcess``, always ended on exit."""
    host = HostProcess(port, journal, env)
    try:
        await host.start()
        yield host
    finally:
        await host.kill()
