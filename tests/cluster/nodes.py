"""``dreamcommons host --cluster`` processes for the cluster's tests, on free loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamcommons.server.cluster import NatsProcess
from tests.processes import dreamcommons, free_port, read_until
from tests.waiting import within


@dataclass(frozen=True, slots=True)
class Node:
    url: str  # ws://127.0.0.1:PORT
    process: asyncio.subprocess.Process

    async def health(self) -> dict[str, Any]:
        return await get_json(self.url, "/healthz")

    async def metric(self, name: str) -> float:
        """The value of ``name`` on the process's ``/metrics``."""
        address = self.url.replace("ws://", "http://") + "/metrics"

        def get() -> str:
            with urllib.request.urlopen(address, timeout=within(5)) as response:
                text: str = response.read().decode()
                return text

        for line in (await asyncio.to_thread(get)).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise AssertionError(f"no {name} in {address}")

    async def kill(self) -> None:
        """kill -9: no lease released, nothing flushed."""
        self.process.kill()
        await self.process.wait()


async def get_json(url: str, path: str) -> dict[str, Any]:
    """A JSON page (``/healthz``, ``/sessions.json``) of the process at ``ws://...``."""
    address = url.replace("ws://", "http://") + path

    def get() -> dict[str, Any]:
        with urllib.request.urlopen(address, timeout=within(5)) as response:
            body: dict[str, Any] = json.load(response)
            return body

    return await asyncio.to_thread(get)


@contextlib.asynccontextmanager
async def node(nats: NatsProcess, role: str, state_dir: Path, *extra: str) -> AsyncIterator[Node]:
    """A ``dreamcommons host --cluster`` of ``role``, every session open; ``extra`` arguments
    (``--broker URL`` for an ingest)."""
    port = free_port()
    args = ["host", "--port", str(port), "--open", "*", "--state-dir", str(state_dir), *extra]
    async with dreamcommons(*args, "--cluster", nats.url, "--role", role) as process:
        await read_until(process, "hosting on", within(30))
        assert process.stdout is not None
        drain = asyncio.get_running_loop().create_task(process.stdout.read())  # never blocks it
        try:
            yield Node(f"ws://127.0.0.1:{port}", process)
        finally:
            drain.cancel()
