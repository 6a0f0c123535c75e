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

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

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


def test_the_examples_are_small_and_use_nothing_of_the_project() -> None:
    for example in ("python_client.py", "node_client.mjs"):
        text = (EXAMPLES / example).read_text()
        assert len(text.splitlines()) < 150, example
        assert not PROJECT_IMPORT.search(text), example
    imports = re.findall(r"^import (\w+)", (EXAMPLES / "python_client.py").read_text(), re.M)
    assert set(imports) - {"argparse", "asyncio", "json"} == {"msgpack", "websockets"}
    assert "import " not in (EXAMPLES / "node_client.mjs").read_text()
