"""Shared fixtures: a real dream server on a free loopback port, in the test's event loop."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from types import ModuleType

import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.lsl_bridge.loopback import (
    ENVIRONMENT,
    LOOPBACK_CONFIG,
    stays_on_this_machine,
)
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import TIMEOUT_UNIT, within

__all__ = ["TIMEOUT_UNIT", "within"]

# Lab Streaming Layer stays on this machine, in the tests and in every process they start:
# liblsl reads the file LSLAPICFG names once, when first used, so it is set before anything
# imports pylsl (tests/integration/test_lsl_bridge.py checks that it took).
PYLSL_IMPORTED_BEFORE_CONFINEMENT = "pylsl" in sys.modules
os.environ[ENVIRONMENT] = str(LOOPBACK_CONFIG)


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


def _first_use_of_liblsl() -> str:
    """What liblsl writes to standard error as it is first used in this process: it says
    there which configuration it loaded. Using it here creates no outlet and sends nothing."""
    import pylsl

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as said:
        os.dup2(said.fileno(), 2)
        try:
            pylsl.protocol_version()  # the first call into liblsl reads its configuration
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        said.seek(0)
        return said.read().decode(errors="replace")


@pytest.fixture(scope="session")
def lsl_on_loopback() -> ModuleType:
    """pylsl, once liblsl is known to run with the loopback configuration: every test that
    makes an LSL outlet or inlet in this process asks for it first."""
    said = _first_use_of_liblsl()
    if (
        PYLSL_IMPORTED_BEFORE_CONFINEMENT
        or f"Configuration loaded from {LOOPBACK_CONFIG}" not in said
    ):
        pytest.fail(f"liblsl is not confined to this machine; it said:\n{said}")
    assert stays_on_this_machine(LOOPBACK_CONFIG)
    import pylsl

    module: ModuleType = pylsl
    return module
