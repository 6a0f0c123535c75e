"""Shared fixtures: a real dream server on a free loopback port, in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import TIMEOUT_UNIT, within

__all__ = ["TIMEOUT_UNIT", "within"]


@pytest.fixture
async def dream_server() -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, max_errors=4, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture
def server_url(dream_server: DreamServer) -> str:
    return f"ws://127.0.0.1:{dream_server.port}/commons"


@pytest.fixture
async def mosquitto() -> AsyncIterator[MosquittoProcess]:
    """A real Mosquitto of the test's own, on a free loopback port."""
    async with MosquittoProcess() as broker:
        yield broker
