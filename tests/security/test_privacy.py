"""What leaves the server: no raw biometrics, no private motifs, for anyone, on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection, connect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import Encoding, ServerMessage
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration

# Names of raw readings and of what the server estimates from them.
BIOMETRIC_FIELDS = frozenset(
    {"hr", "hrv", "resp", "eeg", "move", "temp", "stress", "breath_phase", "breath_hz", "samples"}
)


def items_of(value: object) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key), inner
            yield from items_of(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from items_of(inner)


def keys_of(value: object) -> set[str]:
    return {key for key, _ in items_of(value)}


def stages_in(frames: list[str]) -> set[object]:
    return {v for f in frames for k, v in items_of(json.loads(f)) if k == "stage"}


class Eavesdropper:
    """A raw JSON connection that keeps every frame the server sends it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def until(self, needle: str) -> None:
        async with asyncio.timeout(within(10)):
            while True:
                frame = await self.ws.recv(decode=True)
                self.frames.append(frame)
                if needle in frame:
                    return


@contextlib.asynccontextmanager
async def eavesdropping(server: DreamServer, role: str = "watcher") -> AsyncIterator[Eavesdropper]:
    url = f"ws://127.0.0.1:{server.port}/commons"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        code = server.gatekeeper.join_code("commons")
        join = {"type": "join", "session": "commons", "name": "Eve", "role": role, "code": code}
        await ws.send(json.dumps(join))
        yield Eavesdropper(ws)


def test_no_server_message_has_a_field_for_raw_biometrics() -> None:
    schema = TypeAdapter(ServerMessage).json_schema()
    properties = set()
    for definition in schema.get("$defs", {}).values():
        properties |= set(definition.get("properties", {}))
    assert properties
    assert not properties & BIOMETRIC_FIELDS


async def test_private_motifs_never_leave_the_engine(closed_server: DreamServer) -> None:
    url = f"ws://127.0.0.1:{closed_server.port}/commons"
    code = closed_server.gatekeeper.join_code("commons")
    async with (
        eavesdropping(closed_server) as watcher,
        eavesdropping(closed_server, role="dreamer") as dreamer,
        DreamClient(url, "Lyra", code=code) as lyra,
    ):
        await lyra.contribute("lantern", intensity=1.0, private=True)
        await lyra.contribute("moon", intensity=1.0)  # public, merged in the same or a later tick
        await watcher.until('"moon"')
        await dreamer.until('"moon"')
        state = await lyra.wait_for(lambda s: any(m.name == "moon" for m in s.motifs))
    assert all("lantern" not in frame for frame in watcher.frames + dreamer.frames)
    assert all(m.name != "lantern" for m in state.motifs)  # not even to its dreamer


async def test_raw_biometrics_never_reach_other_participants(mosquitto: MosquittoProcess) -> None:
    settings = ServerSettings(port=0, broker=mosquitto.url)
    config = DeviceConfig.generate(
        "pod", 3, device_id="pod-lyra", pairing_code="KYRA23ZZZZ", sample_hz=20.0, batch=2
    )
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        SimulatedDevice(config, mosquitto.url) as pod,
    ):
        url = f"ws://127.0.0.1:{server.port}/commons"
        code = server.gatekeeper.join_code("commons")
        await asyncio.wait_for(pod.connected.wait(), within(10))
        registry = server.devices.registry
        await eventually(lambda: "pod-lyra" in registry.devices)
        async with (
            eavesdropping(server) as watcher,
            eavesdropping(server, role="dreamer") as dreamer,
            DreamClient(url, "Lyra", code=code) as lyra,
        ):
            await lyra.pair_device("KYRA23ZZZZ")
            record = registry.devices["pod-lyra"]
            heard = record.samples
            await eventually(lambda: record.samples >= heard + 20)  # the sleeper keeps talking
            sleeper_updates = server.sessions["commons"].stats.sleeper_updates
            await eventually(
                lambda: server.sessions["commons"].stats.sleeper_updates > sleeper_updates
            )
            await watcher.until('"devices":1')
            await dreamer.until('"devices":1')
            mine = await lyra.wait_for(lambda s: any(p.devices for p in s.participants))
            assert stages_in(watcher.frames + dreamer.frames) == {None}  # no consent yet
            assert all("breath" not in keys_of(json.loads(f)) for f in watcher.frames)
            await lyra.share(None, show_stage=True)
            await watcher.until('"stage":"')
            await watcher.until('"breath":{')  # the same consent shows the breathing rhythm
        for frame in watcher.frames + dreamer.frames:
            assert not keys_of(json.loads(frame)) & BIOMETRIC_FIELDS
        assert not keys_of(mine.model_dump(mode="json")) & BIOMETRIC_FIELDS
        assert stages_in(watcher.frames) - {None} <= {"awake", "light", "deep", "rem"}
