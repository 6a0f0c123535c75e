"""The one way every process connects to NATS: reconnect forever, log what happens.

A NATS restart is a pause, not an end: the client retries every ``reconnect_wait`` seconds
without a limit and resubscribes by itself; what it publishes meanwhile is buffered up to
``pending_bytes`` (a JetStream publish still waits for its acknowledgement, so nothing is
taken for durable while NATS is away; ``SessionLog.append`` refuses at once rather than
leave a copy in that buffer).
"""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)

RECONNECT_WAIT_S = 0.5
CONNECT_TIMEOUT_S = 2
PENDING_BYTES = 8 * 1024 * 1024


async def connect(
    url: str | list[str], *, name: str, reconnect_wait: float = RECONNECT_WAIT_S
) -> Client:
    """A connection to the NATS at ``url`` that reconnects by itself whenever it drops."""

    async def disconnected() -> None:
        if client.is_closed:  # closed on purpose: ``closed`` says so
            return
        log.warning("nats %s: disconnected, reconnecting", name)

    async def reconnected() -> None:
        where = client.connected_url
        log.warning("nats %s: reconnected to %s", name, where.netloc if where else "?")

    async def closed() -> None:
        log.info("nats %s: connection closed", name)

    async def error(exc: Exception) -> None:
        if client.is_reconnecting:  # each refused attempt while NATS is away: said once above
            log.debug("nats %s: %s: %s", name, type(exc).__name__, exc)
            return
        log.warning("nats %s: %s: %s", name, type(exc).__name__, exc)

    client: Client = await nats.connect(
        url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=reconnect_wait,
        connect_timeout=CONNECT_TIMEOUT_S,
        pending_size=PENDING_BYTES,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        closed_cb=closed,
        error_cb=error,
    )
    return client
