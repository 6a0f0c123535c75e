"""A subscriber that keeps everything it hears on a real broker, for tests that check what
devices and servers publish, and a one-shot publisher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiomqtt

from dreamcommons.server.broker import MosquittoProcess
from tests.waiting import eventually


@dataclass(frozen=True, slots=True)
class Heard:
    topic: str
    payload: bytes
    retain: bool


@dataclass(slots=True)
class Watch:
    """Everything a subscriber heard, in order."""

    heard: list[Heard] = field(default_factory=list)

    def on(self, topic: str) -> list[Heard]:
        return [h for h in self.heard if h.topic == topic]

    def last(self, topic: str) -> bytes | None:
        found = self.on(topic)
        return found[-1].payload if found else None

    def json_on(self, topic: str) -> list[dict[str, object]]:
        return [json.loads(h.payload) for h in self.on(topic) if h.payload]

    async def until(self, condition: Callable[[], object], what: str, seconds: float = 10) -> None:
        await eventually(condition, what, seconds)


@contextlib.asynccontextmanager
async def watching(broker: MosquittoProcess, *topics: str) -> AsyncIterator[Watch]:
    watch = Watch()
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"watch-{secrets.token_hex(3)}"
    ) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                watch.heard.append(Heard(str(message.topic), payload, message.retain))

        task = asyncio.get_running_loop().create_task(collect())
        try:
            yield watch
        finally:
            task.cancel()
            # What was heard is the test's to judge; the watcher's own connection ending as
            # the test tears down is not what any test checks.
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def publish(broker: MosquittoProcess, topic: str, payload: str) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(topic, payload, qos=1)
