"""Sleepers' signals through a real Mosquitto into the journal at 1 Hz, as their own data: a
sleeper exports their night as EDF+ and a YASA hypnogram on their resume token, and erases it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import operator
from pathlib import Path

import edfio
import numpy as np
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.signals import READINGS, read_signals
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SESSION = "night"
SECONDS = 4  # of signals to wait for


def seconds_of(journal: Path, pid: str) -> list[float]:
    conn = connect_reader(journal)
    try:
        return [s.t for s in read_signals(conn, SESSION, pid)]
    finally:
        conn.close()


async def run(*args: str) -> str:
    async with dreamcommons(*args) as process:
        output, _ = await asyncio.wait_for(process.communicate(), within(30))
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_signals_are_journaled_at_1_hz_exported_and_erased_with_the_token(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    journal = tmp_path / "dreams.sqlite"
    settings = ServerSettings(port=0, broker=mosquitto.url, journal=journal, open_sessions=("*",))
    tokens: dict[str, str] = {}
    async with (
        DreamServer(settings, load_venue("sleep-commons")) as server,
        Fleet.generate(mosquitto.url, 2, fabric_share=0.5, seed=3, batch=2) as fleet,
        contextlib.AsyncExitStack() as stack,
    ):
        url = f"ws://127.0.0.1:{server.port}/{SESSION}"
        async with asyncio.timeout(within(5)):
            await fleet.wait_connected()
        for device, name in zip(fleet.devices, ("Lyra", "Zara"), strict=True):
            sleeper = await stack.enter_async_context(DreamClient(url, name))
            devices = server.devices.registry.devices
            announced = functools.partial(operator.contains, devices, device.device_id)
            await eventually(announced, "announced")
            await sleeper.pair_device(device.config.pairing_code)
            assert sleeper.resume_token is not None
            tokens[sleeper.participant] = sleeper.resume_token
        lyra, zara = tokens
        await eventually(
            lambda: all(len(seconds_of(journal, pid)) >= SECONDS for pid in tokens),
            "seconds of signals journaled",
            within(15),
        )
    kinds = {pid: fleet.devices[i].config.kind for i, pid in enumerate(tokens)}
    lyra_seconds = seconds_of(journal, lyra)
    assert lyra_seconds == sorted(set(lyra_seconds))  # one row a second, whole seconds
    assert all(t == int(t) for t in lyra_seconds)

    out = tmp_path / "lyra"
    common = ("--out", str(out), "--session", SESSION, f"--resume-token={tokens[lyra]}")
    printed = await run("export", str(journal), "--format", "edf", *common)
    (edf_path,) = (Path(line) for line in printed.split())
    assert edf_path.name == f"night-{SESSION}-{lyra}.edf"
    edf = edfio.read_edf(edf_path)
    known = {r.label: r.unit for r in READINGS}
    assert edf.signals
    assert all(known[s.label] == s.physical_dimension for s in edf.signals)
    assert all(s.sampling_frequency == 1.0 for s in edf.signals)
    assert ("Heart rate" in edf.labels) == (kinds[lyra] == "pod")
    assert ("Skin temp" in edf.labels) == (kinds[lyra] == "fabric")
    printed = await run("export", str(journal), "--format", "yasa", *common)
    (yasa_path,) = (Path(line) for line in printed.split())
    assert len(np.atleast_1d(np.loadtxt(yasa_path, dtype=int))) >= 1
    assert sorted(p.name for p in out.iterdir()) == sorted([edf_path.name, yasa_path.name])

    erase = ("erase", str(journal), "--session", SESSION, f"--resume-token={tokens[lyra]}")
    await run(*erase)
    assert seconds_of(journal, lyra) == []
    assert len(seconds_of(journal, zara)) >= SECONDS  # nobody else's
