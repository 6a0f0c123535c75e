"""The server's own word on the broker: a retained ``online`` on its status topic while it
runs, ``offline`` when it stops, and its last will ``offline`` when it is killed."""

from __future__ import annotations

import asyncio
import signal

import pytest

from dreamcommons.contracts.device_protocol import server_status_topic
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.broker_watch import Heard, watching
from tests.processes import end, free_port, host_command, read_until
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration


async def test_the_servers_birth_is_retained_and_its_will_says_offline_when_killed(
    mosquitto: MosquittoProcess,
) -> None:
    status = server_status_topic("killed")
    argv = [*host_command(free_port()), "--broker", mosquitto.url, "--server-name", "killed"]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        await read_until(process, "hosting on", within(20))

        async def retained_online() -> bool:
            async with watching(mosquitto, status) as late:
                await eventually(lambda: late.heard, "the retained status", 10)
            return late.heard[0] == Heard(status, b"online", retain=True)

        await eventually(retained_online, "the server's retained online", 15)
        async with watching(mosquitto, status) as watch:
            await watch.until(lambda: watch.heard, "the retained online")
            process.kill()
            await watch.until(lambda: watch.last(status) == b"offline", "the will")
    finally:
        await end(process)
    assert process.returncode == -signal.SIGKILL


async def test_a_server_that_stops_says_offline(mosquitto: MosquittoProcess) -> None:
    status = server_status_topic("calm")
    settings = ServerSettings(port=0, broker=mosquitto.url, server_name="calm")
    async with watching(mosquitto, status) as watch:
        async with DreamServer(settings, load_venue("sleep-commons")):
            await watch.until(lambda: watch.last(status) == b"online", "the birth")
        await watch.until(lambda: watch.last(status) == b"offline", "the goodbye")
    assert [h.payload for h in watch.heard] == [b"online", b"offline"]
