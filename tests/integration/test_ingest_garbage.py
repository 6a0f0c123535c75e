"""The device gateway hears a stream of messages without leaving reference cycles behind:
paho's own matcher left six objects a message for the cycle collector (``paho_matcher``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc

import aiomqtt
import pytest

from dreamcommons.contracts.device_protocol import device_topic
from dreamcommons.server.broker import MosquittoProcess
from tests.integration.test_device_commands import gateway_for
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration

MESSAGES = 300


async def test_hearing_messages_leaves_no_cycles(mosquitto: MosquittoProcess) -> None:
    gateway = gateway_for(mosquitto.url)
    running = asyncio.get_running_loop().create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.connected.wait(), within(5))
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as publisher:
            gc.collect()
            gc.disable()
            try:
                heard_before = gateway.stats.messages
                for _ in range(MESSAGES):  # an empty birth: a retained one being cleared
                    await publisher.publish(device_topic("pod-quiet", "birth"), b"", qos=0)
                heard = lambda: gateway.stats.messages - heard_before >= MESSAGES  # noqa: E731
                await eventually(heard, f"{MESSAGES} messages heard")
                left = gc.collect()
            finally:
                gc.enable()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert left < MESSAGES  # paho's matcher alone left 6 a message
