"""Pairing a simulated pod from the app, through a real Mosquitto, and seeing it counted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.panels import STAGES, PeoplePanel
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.tui.conftest import running, shown, type_line, until

pytestmark = pytest.mark.integration


@pytest.fixture
async def server_with_devices(mosquitto: MosquittoProcess) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


async def test_a_device_paired_with_its_code_shows_in_the_app(
    server_with_devices: DreamServer, mosquitto: MosquittoProcess
) -> None:
    server = server_with_devices
    config = DeviceConfig.generate("pod", 7, device_id="pod-lyra", pairing_code="KYRA42ZZZZ")
    app = DreamApp(f"ws://127.0.0.1:{server.port}/commons", "Lyra")
    async with SimulatedDevice(config, mosquitto.url), running(app) as pilot:
        await until(pilot, lambda: "pod-lyra" in server.devices.registry.devices, 10)
        await pilot.press("f6")
        await type_line(pilot, "kyra-42zz-zz")  # as typed: any case, dashes
        await until(pilot, lambda: app.notes[-1].startswith("paired pod-lyra (pod, "))
        await until(pilot, lambda: "1 device shaping your dream" in shown(app, "#devices"), 10)
        assert "pod-lyra" in shown(app, "#devices")
        people = app.query_one(PeoplePanel)

        def my_line() -> str:
            return next(line for line in people.lines() if "(you)" in line)

        assert "⌁1 device" in my_line()
        stages = [f"{icon} {word}" for icon, word, _ in STAGES.values()]
        await type_line(pilot, "/stage on")  # shown to anyone only by the sleeper's consent
        await until(pilot, lambda: any(stage in my_line() for stage in stages), 10)
        await type_line(pilot, "/pair KYRA-42ZZ-ZZ")  # a code is spent once used
        await until(pilot, lambda: app.notes[-1].startswith("! pairing_refused"))
