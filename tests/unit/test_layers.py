"""Imports point down only: contracts import no side, no side imports another, the engine is pure.

Only ``dreamcommons.cli`` assembles the server, the client and the devices together. The LSL
bridge is device-side code built on the simulated devices' MQTT session: it may import the
contracts and ``firmware_sim``, and nothing of the server or the client; its signal processing
is pure (numpy and scipy in, readings out: no LSL, no network, no clock).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "contracts": ROOT / "dreamcommons" / "contracts",
    "server": ROOT / "server",
    "client": ROOT / "client",
    "firmware_sim": ROOT / "firmware_sim",
    "lsl_bridge": ROOT / "dreamcommons" / "lsl_bridge",
}
MAY_IMPORT = {
    "contracts": {"contracts"},
    "server": {"contracts", "server"},
    "client": {"contracts", "client"},
    "firmware_sim": {"contracts", "firmware_sim"},
    "lsl_bridge": {"contracts", "firmware_sim", "lsl_bridge"},
}
# The merge engine takes time and randomness as arguments and does no I/O.
IMPURE = {"asyncio", "random", "time", "socket", "sqlite3", "threading", "os", "logging"}
# The bridge's signal processing: numpy arrays in, readings out.
SIGNAL_PROCESSING = ("signals.py", "readings.py")
NOT_IN_SIGNAL_PROCESSING = IMPURE | {"pylsl", "aiomqtt"}


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _sides(path: Path) -> Iterator[tuple[str, str]]:
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "dreamcommons" and len(parts) > 1:
            yield parts[1], name


@pytest.mark.parametrize("side", sorted(FOLDERS))
def test_a_side_imports_only_itself_and_the_contracts(side: str) -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(FOLDERS[side].rglob("*.py"))
        for imported, name in _sides(path)
        if imported not in MAY_IMPORT[side]
    ]
    assert crossings == []


def test_the_merge_engine_is_pure() -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "server" / "engine").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in IMPURE
        or (name.startswith("dreamcommons.server.") and ".engine" not in name)
    ]
    assert found == []


@pytest.mark.parametrize("module", SIGNAL_PROCESSING)
def test_the_bridge_s_signal_processing_is_pure(module: str) -> None:
    path = FOLDERS["lsl_bridge"] / module
    found = [
        name
        for name in _imports(path)
        if name.split(".")[0] in NOT_IN_SIGNAL_PROCESSING
        or name.startswith("dreamcommons.firmware_sim")
    ]
    assert found == []
