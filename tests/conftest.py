"""Shared fixtures: a real dream server on a free loopback port, in the test's event loop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import TIMEOUT_UNIT, within

__all__ = ["TIMEOUT_UNIT", "within"]


@pytest.fixture(scope="session", autouse=True)
def _state_dir_of_the_tests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every ``dreamcommons host`` the tests start keeps its secret here, never in the home
    directory of whoever runs them (child processes inherit the environment)."""
    kept = {name: os.environ.get(name) for name in ("DREAMCOMMONS_STATE_DIR", "XDG_STATE_HOME")}
    state = tmp_path_factory.mktemp("state")
    os.environ["DREAMCOMMONS_STATE_DIR"] = str(state / "dreamcommons")
    os.environ["XDG_STATE_HOME"] = str(state)
    yield
    for name, value in kept.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
