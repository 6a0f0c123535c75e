"""What the host logs about its device broker: one that never answered is unreachable (with
where it was looked for), one that answered and went away is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.ingest import DeviceGateway
from tests.integration.test_device_commands import LOGGER, gateway_for, warnings_naming
from tests.processes import free_port
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(gateway: DeviceGateway) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(gateway.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_broker_that_never_answered_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens there
    gateway = gateway_for(url)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with running(gateway):
            await eventually(lambda: warnings_naming(caplog, "unreachable"), "the warning")
    (warning,) = warnings_naming(caplog, "unreachable")
    assert f"is Mosquitto running at {url}?" in warning
    assert warnings_naming(caplog, "lost") == []


async def test_a_broker_that_went_away_is_lost(
    mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = gateway_for(mosquitto.url)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with running(gateway):
            await asyncio.wait_for(gateway.connected.wait(), within(5))
            await mosquitto.stop()
            await eventually(lambda: warnings_naming(caplog, "lost"), "the warning")
    assert len(warnings_naming(caplog, "connection lost")) == 1
    assert warnings_naming(caplog, "unreachable") == []
