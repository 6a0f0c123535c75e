"""The NATS child process: ready means JetStream answers; a restart keeps port and store."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest
from nats.js.api import StreamConfig

from dreamcommons.server.cluster import NatsProcess, NatsUnavailable, connect
from dreamcommons.server.cluster import process as process_module

pytestmark = pytest.mark.integration


async def test_ready_means_jetstream_takes_a_stream(nats_server: NatsProcess) -> None:
    client = await connect(nats_server.url, name="probe")
    try:
        info = await client.jetstream().add_stream(StreamConfig(name="PROBE", subjects=["p.>"]))
        assert info.config.name == "PROBE"
    finally:
        await client.close()


async def test_it_runs_in_a_process_group_of_its_own(nats_server: NatsProcess) -> None:
    pid = nats_server.pid
    assert pid is not None
    assert os.getpgid(pid) == pid != os.getpgid(0)


async def test_a_restart_keeps_its_port_and_its_streams(tmp_path: Path) -> None:
    async with NatsProcess(store_dir=tmp_path) as server:
        client = await connect(server.url, name="probe")
        await client.jetstream().add_stream(StreamConfig(name="KEPT", subjects=["k.>"]))
        await client.close()
        port = server.port
        await server.stop()
        assert not server.running
        await server.start()
        assert server.port == port
        client = await connect(server.url, name="probe")
        try:
            info = await client.jetstream().stream_info("KEPT")
            assert info.config.subjects == ["k.>"]
        finally:
            await client.close()
    assert await asyncio.to_thread(
        (tmp_path / "store" / "jetstream").is_dir
    )  # the caller's to remove


async def test_stop_kills_a_server_that_ignores_sigterm(nats_server: NatsProcess) -> None:
    process = nats_server._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    await nats_server.stop(grace=0.2)
    assert process.returncode == -signal.SIGKILL


def test_a_missing_binary_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_module, "_CANDIDATES", ("no-such-nats-server",))
    with pytest.raises(NatsUnavailable, match="apt-get install nats-server"):
        NatsProcess()


async def test_a_server_that_cannot_start_says_why(
    nats_server: NatsProcess, tmp_path: Path
) -> None:
    taken = NatsProcess(nats_server.port, store_dir=tmp_path / "second")
    with pytest.raises(NatsUnavailable, match=r"exited: \[\d+\] .* \[FTL\] .*already in use"):
        await taken.start()
    assert not taken.running


async def test_ports_it_chose_and_found_taken_are_chosen_again(tmp_path: Path) -> None:
    server = NatsProcess(store_dir=tmp_path)
    chosen = server.port
    with socket.socket() as squatter:  # takes the port between choosing it and binding it
        squatter.bind((server.host, chosen))
        squatter.listen()
        async with server:
            assert server.running
            assert server.port != chosen
            client = await connect(server.url, name="probe")
            await client.close()


async def test_a_monitoring_port_another_server_answers_on_is_not_taken_for_ready(
    nats_server: NatsProcess, tmp_path: Path
) -> None:
    late = NatsProcess(store_dir=tmp_path / "late")
    late.monitor_port = nats_server.monitor_port  # taken between choosing it and binding it
    async with late:  # not ready by the other's answer: it exits, and starts on ports anew
        assert late.running
        assert late.monitor_port != nats_server.monitor_port
    assert not late.running
