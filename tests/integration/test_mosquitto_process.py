"""The Mosquitto child process: ready means this broker runs, not that its port answers; a
port it chose itself and found taken is chosen anew."""

from __future__ import annotations

import socket

import pytest

from dreamcommons.server.broker import BrokerUnavailable, MosquittoProcess, port_open

pytestmark = pytest.mark.integration


async def test_a_port_another_listener_holds_is_not_taken_for_ready() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        broker = MosquittoProcess(port)
        with pytest.raises(BrokerUnavailable, match="Address already in use"):
            await broker.start()


async def test_a_restarted_broker_is_ready_again_on_its_port(
    mosquitto: MosquittoProcess,
) -> None:
    port = mosquitto.port
    await mosquitto.stop()
    await mosquitto.start()
    assert mosquitto.port == port
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


async def test_a_port_it_chose_and_found_taken_is_chosen_again() -> None:
    broker = MosquittoProcess()
    with socket.socket() as other:  # takes the port between choosing it and binding it
        other.bind(("127.0.0.1", broker.port))
        other.listen()
        chosen = broker.port
        async with broker:
            assert broker.port != chosen
            assert await port_open(broker.host, broker.port)
