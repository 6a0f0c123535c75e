"""A Mosquitto locked down by ``dreamcommons broker-config``, and a closed dream server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.broker_config import (
    BrokerConfig,
    Credential,
    security_lines,
    write_broker_config,
)
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.processes import free_port

DEVICES = ("pod-victim", "pod-evil", "fabric-victim")


@dataclass(frozen=True, slots=True)
class SecuredBroker:
    process: MosquittoProcess
    config: BrokerConfig

    def device(self, device_id: str) -> Credential:
        return next(c for c in self.config.devices if c.username == device_id)

    def url(self, who: Credential | None = None) -> str:
        if who is None:
            return self.process.url
        return self.config.broker_url(who, self.process.host, self.process.port)


@pytest.fixture
async def secured_broker(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    port = free_port()
    config = write_broker_config(tmp_path / "broker", DEVICES, port=port)
    extra = security_lines(config.directory) + "use_username_as_clientid true\n"
    async with MosquittoProcess(port, extra_config=extra, workdir=tmp_path) as process:
        yield SecuredBroker(process, config)


@pytest.fixture
async def closed_server() -> AsyncIterator[DreamServer]:
    """A server whose sessions are private, as in production."""
    settings = ServerSettings(port=0, max_errors=4, contribution_burst=5, contributions_per_s=2)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server
