"""A member's connection held by another process: a cluster gateway's WebSocket.

The session that owns the member cannot write to it (its deltas reach that gateway over NATS,
``server/cluster/``); it can only ask the gateway to close it, as it would close a WebSocket of
its own: a member who resumed elsewhere, or whom the host removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class RemoteLink:
    """Connection ``link`` of gateway ``gateway``; ``on_close`` asks that gateway to close it."""

    gateway: str
    link: str
    on_close: Callable[[RemoteLink, int, str], None]
    since: float = field(default_factory=time.monotonic)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.on_close(self, code, reason)
