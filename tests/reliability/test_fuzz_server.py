"""A few thousand random and mutated frames at a live ``dreamcommons host``: every one gets an
answer the protocol knows, a good contribution after them is still acknowledged, and the
server neither dies nor logs an unhandled error."""

from __future__ import annotations

import os
import random
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from dreamcommons.contracts.errors import ProtocolError
from dreamcommons.contracts.protocol import (
    Ack,
    Contribute,
    Encoding,
    Join,
    Resync,
    Snapshot,
    Welcome,
    decode_client,
    decode_server,
    encode,
)
from tests.conftest import within
from tests.processes import free_port, host_command
from tests.reliability.frames import frames, mutants

pytestmark = pytest.mark.integration

MARKER = 2**53  # the cid of the good contribution that closes each storm
SEEDS = 8
MUTANTS = 8  # 40 examples x 8 x (1 + 8) = 2,880 frames


@dataclass
class LiveHost:
    port: int
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def trouble(self) -> list[str]:
        return [line for line in self.lines if "Traceback" in line or " ERROR " in line]


@pytest.fixture(scope="module")
def live_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHost]:
    journal: Path = tmp_path_factory.mktemp("fuzz") / "dreams.sqlite"
    port = free_port()
    process = subprocess.Popen(
        host_command(port, journal),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DREAMCOMMONS_MAX_ERRORS": "1000000"},
    )
    host = LiveHost(port, process)
    ready = threading.Event()

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            host.lines.append(line)
            if "hosting" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=collect, name="host-output", daemon=True)
    reader.start()
    try:
        assert ready.wait(within(20)), "the host did not start"
        assert process.poll() is None, "".join(host.lines)
        yield host
    finally:
        process.terminate()
        try:
            process.wait(within(10))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(within(5))
        if process.stdout is not None:
            process.stdout.close()


def answers_until_marker(ws: ClientConnection, encoding: Encoding) -> tuple[int, bool]:
    """Read every answer (each must decode) until the marker's ack: how many there were, and
    whether a snapshot was among them."""
    count, snapshot = 0, False
    while True:
        reply = decode_server(ws.recv(timeout=within(10)), encoding)
        count += 1
        snapshot = snapshot or isinstance(reply, Snapshot)
        if isinstance(reply, Ack) and reply.cid == MARKER:
            return count, snapshot


def is_resync(frame: bytes | str, encoding: Encoding) -> bool:
    """A well-formed resync: answered by the next tick's snapshot, once for all that wait."""
    try:
        return isinstance(decode_client(frame, encoding), Resync)
    except ProtocolError:
        return False


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data(), st.randoms(use_true_random=False))
def test_a_live_server_survives_a_storm_of_bad_frames(
    live_host: LiveHost, data: st.DataObject, rng: random.Random
) -> None:
    encoding = data.draw(st.sampled_from(list(Encoding)))
    seeds = data.draw(st.lists(frames(encoding), min_size=SEEDS, max_size=SEEDS))
    storm = seeds + [m for seed in seeds for m in mutants(seed, rng, MUTANTS)]
    url = f"ws://127.0.0.1:{live_host.port}/commons"
    with connect(url, subprotocols=[encoding.value], max_queue=None) as ws:  # type: ignore[list-item]
        ws.send(encode(Join(session="commons", name="Fuzz"), encoding))
        assert isinstance(decode_server(ws.recv(timeout=within(10)), encoding), Welcome)
        for frame in storm:
            ws.send(frame)
        ws.send(encode(Contribute(cid=MARKER, motif="moon"), encoding))
        resyncs = sum(is_resync(frame, encoding) for frame in storm)
        answered, snapshot = answers_until_marker(ws, encoding)
        assert answered >= len(storm) - resyncs  # every other frame is answered at once
        while resyncs and not snapshot:  # and the resyncs by a snapshot at the next tick
            snapshot = isinstance(decode_server(ws.recv(timeout=within(10)), encoding), Snapshot)
    assert live_host.process.poll() is None
    assert live_host.trouble() == []
