"""The reference outside clients of examples/, each written from docs/protocol.md alone, run
against a real server: they join, contribute, see their contribution merged, and the state
they built from the deltas equals a snapshot of the same tick."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import DreamscapeState
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT_IMPORT = re.compile(
    r"^\s*(from|import)\s+(dreamcommons|server|client|firmware_sim)\b", re.M
)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    settings = ServerSettings(port=0, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield f"ws://127.0.0.1:{server.port}/commons"


def node_command() -> list[str]:
    """Node, with its WebSocket switched on where it is not on by default (Node 20 and 21)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the Node example needs Node.js 20 or newer: `make test-setup` installs it")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = int(version.lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"the Node example needs Node.js 20 or newer (its WebSocket); found {version}")
    return [node, "--experimental-websocket"] if major < 22 else [node]


async def run(*command: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), within(40))
    assert process.returncode == 0, f"{command[-2]} failed:\n{out.decode()}\n{err.decode()}"
    report: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def test_the_python_example_builds_the_dreamscape_the_server_holds(url: str) -> None:
    report = await run(sys.executable, str(EXAMPLES / "python_client.py"), url, "--name", "Ada")
    assert report["matches_snapshot"] is True
    assert report["motifs"] == ["lantern"]


async def test_the_node_example_builds_the_dreamscape_the_server_holds(url: str) -> None:
    report = await run(*node_command(), str(EXAMPLES / "node_client.mjs"), url, "Bo")
    assert report["matches_snapshot"] is True
    assert report["motifs"] == ["lantern"]


async def test_the_python_device_pairs_streams_and_obeys_through_a_real_broker(
    mosquitto: MosquittoProcess,
) -> None:
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        device = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "python_device.py"), mosquitto.url,
            "--id", "pod-example", "--code", "KYRA42ZZZZ", "--seconds", str(within(12)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert device.stdout is not None
        started = json.loads(await asyncio.wait_for(device.stdout.readline(), within(10)))
        assert started["device"] == "pod-example"
        devices = server.devices.registry.devices  # its offer reaches the server by the broker
        await eventually(lambda: "pod-example" in devices, "the example pod announced", 10)
        async with DreamClient(f"ws://127.0.0.1:{server.port}/commons", "Lyra") as lyra:
            paired = await lyra.pair_device("kyra-42zz-zz")
            assert (paired.device, paired.kind, paired.model) == (
                "pod-example",
                "pod",
                "Example Pod",
            )
            result = await lyra.command("pod-example", "light", 0.4)
            assert result.ok, result
            refused = await lyra.command("pod-example", "warmth", 0.5)  # a fabric's, not a pod's
            assert not refused.ok
            await lyra.share(None, show_stage=True)
            me = lyra.participant

            def staged(state: DreamscapeState) -> bool:
                return any(p.id == me and p.stage == "deep" for p in state.participants)

            await lyra.wait_for(staged, within(15))  # its slow waves read as deep sleep
        out, err = await asyncio.wait_for(device.communicate(), within(30))
        assert device.returncode == 0, err.decode()
        report = json.loads(out.decode().strip().splitlines()[-1])
        assert report["commands"][:2] == ["paired", "light"]
        assert report["levels"] == {"light": 0.4}
        pod = server.devices.registry.devices["pod-example"]
        await eventually(lambda: not pod.online, "offline by its own last word")
        assert server.devices.summary()["samples_lost"] == 0


def test_the_examples_are_small_and_use_nothing_of_the_project() -> None:
    for example in ("python_client.py", "node_client.mjs", "python_device.py"):
        text = (EXAMPLES / example).read_text()
        assert len(text.splitlines()) < 150, example
        assert not PROJECT_IMPORT.search(text), example
    imports = re.findall(r"^import (\w+)", (EXAMPLES / "python_client.py").read_text(), re.M)
    assert set(imports) - {"argparse", "asyncio", "json"} == {"msgpack", "websockets"}
    assert "import " not in (EXAMPLES / "node_client.mjs").read_text()
    device = (EXAMPLES / "python_device.py").read_text()
    modules = set(re.findall(r"^(?:from|import) (\w+)", device, re.M))
    assert modules - set(sys.stdlib_module_names) == {"msgpack", "paho"}  # paho-mqtt
