"""The settings of a cluster's roles: an ingest process serves a cluster's devices on a broker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dreamcommons.server.settings import ServerSettings

NATS = "nats://127.0.0.1:4222"
BROKER = "mqtt://127.0.0.1:1883"


def test_an_ingest_needs_a_cluster_and_a_broker() -> None:
    with pytest.raises(ValidationError, match="--role ingest"):
        ServerSettings(cluster=NATS, role="ingest")
    with pytest.raises(ValidationError, match="--role ingest"):
        ServerSettings(broker=BROKER, role="ingest")
    settings = ServerSettings(cluster=NATS, broker=BROKER, role="ingest")
    assert (settings.role, settings.broker) == ("ingest", BROKER)
