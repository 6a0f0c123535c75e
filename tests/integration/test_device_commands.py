"""A command fired in the background (``command_soon``) that cannot be carried out leaves a
warning naming the device and the action: not sent, or not acknowledged in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.ingest import DeviceGateway
from dreamcommons.server.devices.registry import DeviceRecord, DeviceRegistry
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration

LOGGER = "dreamcommons.server.devices.ingest"


def gateway_for(url: str) -> DeviceGateway:
    def ignore_batch(record: DeviceRecord, batch: SampleBatch, arrived: float) -> None:
        pass

    def ignore_status(record: DeviceRecord) -> None:
        pass

    return DeviceGateway(
        url, DeviceRegistry(), on_batch=ignore_batch, on_status=ignore_status, client_id="test-c"
    )


def warnings_naming(caplog: pytest.LogCaptureFixture, *words: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER
        and r.levelno == logging.WARNING
        and all(w in r.getMessage() for w in words)
    ]


async def test_a_command_that_cannot_be_sent_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    gateway = gateway_for("mqtt://127.0.0.1:1")  # never connected: nothing can be sent
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gateway.command_soon("pod-lyra", "light", 0.4)
        await eventually(lambda: warnings_naming(caplog, "pod-lyra", "light"), "the warning")
    (warning,) = warnings_naming(caplog, "pod-lyra", "light")
    assert "not connected" in warning


async def test_a_command_nobody_acknowledges_is_logged(
    mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = gateway_for(mosquitto.url)
    running = asyncio.get_running_loop().create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.connected.wait(), within(5))
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            gateway.command_soon("pod-nobody", "pace", 0.1, wait_s=0.2)  # no such device
            await eventually(lambda: warnings_naming(caplog, "pod-nobody", "pace"), "the warning")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    (warning,) = warnings_naming(caplog, "pod-nobody", "pace")
    assert "did not acknowledge" in warning
