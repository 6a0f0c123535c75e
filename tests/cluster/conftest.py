"""The cluster's tests run on a real NATS (``tests/nats_fixtures.py``)."""

from tests.nats_fixtures import jetstream, nats_client, nats_server

__all__ = ["jetstream", "nats_client", "nats_server"]
