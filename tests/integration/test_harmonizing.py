"""The harmonizing loop end to end: engine, server, MQTT commands, firmware, physiology,
biometrics, engine. Simulated sleepers on a real Mosquitto, a real DreamServer, and a host
and sleepers on real WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import operator

import pytest

from dreamcommons.client.bots import BOT_NAMES
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.body_clock import on_body_clock
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SESSION = "night"
SLEEPERS = 6
TIME_SCALE = 4.0  # the bodies breathe 4x faster than the wall clock: a minute in 15 s


@pytest.mark.parametrize(
    "venue_name",
    [
        "sleep-commons",  # the host harmonizes
        "harmony-festival",  # the venue harmonizes by itself on a fracture
    ],
)
async def test_harmonizing_entrains_the_sleepers_and_heals_the_fracture(
    mosquitto: MosquittoProcess, venue_name: str
) -> None:
    venue = on_body_clock(load_venue(venue_name), TIME_SCALE)
    rules = venue.coherence
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with (
        DreamServer(settings, venue) as server,
        Fleet.generate(
            mosquitto.url,
            SLEEPERS,
            seed=8,
            time_scale=TIME_SCALE,
            desynchronized=True,
            batch=2,
        ) as fleet,
        contextlib.AsyncExitStack() as stack,
    ):
        url = f"ws://127.0.0.1:{server.port}/{SESSION}"
        host = await stack.enter_async_context(
            DreamClient(url, "Vivienne", role="host", key=settings.host_key)
        )
        async with asyncio.timeout(within(5)):
            await fleet.wait_connected()
        registry = server.devices.registry
        for device, name in zip(fleet.devices, BOT_NAMES, strict=False):
            sleeper = await stack.enter_async_context(DreamClient(url, name))
            announced = functools.partial(operator.contains, registry.devices, device.device_id)
            await eventually(announced, "announced")
            await sleeper.pair_device(device.config.pairing_code)

        fractured = await host.wait_for(lambda s: s.scene.fractured, within(15))
        assert fractured.scene.coherence is not None
        assert fractured.scene.above_chance is not None
        # A state a few ticks after the fracture may be the first the host sees: of any
        # fractured scene, all that holds is that it has not come back to the healing margin.
        assert fractured.scene.above_chance < rules.heal_margin
        assert len(fractured.scene.regions) >= 2
        if not venue.harmonize.auto:
            assert all(device.pace_hz is None for device in fleet.devices)
            await host.host("harmonize")
        paced = await host.wait_for(lambda s: s.scene.harmonizing, within(5))
        assert paced.scene.fractured
        await eventually(  # every device got its pacing command
            lambda: all(d.pace_hz == venue.harmonize.pace_hz for d in fleet.devices), "paced"
        )

        healed = await host.wait_for(lambda s: not s.scene.fractured, within(20))
        assert healed.scene.coherence is not None
        assert healed.scene.above_chance is not None
        assert healed.scene.above_chance >= rules.heal_margin
        assert healed.scene.regions == ()
    counters = server.sessions[SESSION].engine.counters
    assert counters.fractures == 1
    assert counters.harmonizations == 1
