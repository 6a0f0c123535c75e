"""A real NATS with JetStream for the tests: a fresh ``nats-server -js`` on a free loopback
port, its store in the test's temporary directory, and a client connected to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from dreamcommons.server.cluster import NatsProcess, connect
from dreamcommons.server.cluster.lease import LeaseChange, SessionLeases


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsProcess]:
    """A NATS of the test's own; ``stop()`` and ``start()`` restart it on its port and store."""
    async with NatsProcess(store_dir=tmp_path / "nats") as server:
        yield server


@pytest.fixture
async def nats_client(nats_server: NatsProcess) -> AsyncIterator[Client]:
    """A connection to ``nats_server`` that reconnects by itself, as every process's does."""
    client = await connect(nats_server.url, name="test", reconnect_wait=0.1)
    yield client
    await client.close()


@pytest.fixture
def jetstream(nats_client: Client) -> JetStreamContext:
    return nats_client.jetstream()


@contextlib.asynccontextmanager
async def lease_changes(leases: SessionLeases) -> AsyncIterator[asyncio.Queue[LeaseChange]]:
    """What ``leases.watch()`` reports while the block runs, queued in order; the watch must
    still be running at the end (stopped by this, not ended by an error of its own)."""
    changes: asyncio.Queue[LeaseChange] = asyncio.Queue()

    async def watch() -> None:
        async for change in leases.watch():
            changes.put_nowait(change)

    watcher = asyncio.create_task(watch())
    try:
        yield changes
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert watcher.cancelled()
