"""An engine: owns the sessions the cluster places on it, each under its lease.

A gateway that finds no owner for a session asks ``dreamcommons.placement`` (a queue group of
the engines: one of them answers) ``{session}``. That engine claims the session's lease, opens
the session, serves it (``SessionOwner``) and keeps the lease; it answers ``{owner}``, the
process that owns the session now: itself, or the one whose lease it found. A lease lost (not
refreshed in time, or taken) closes the session here at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from dreamcommons.server.cluster.devices import OwnedDevices
from dreamcommons.server.cluster.errors import LeaseHeld, LeaseLost
from dreamcommons.server.cluster.lease import SessionLease, SessionLeases
from dreamcommons.server.cluster.names import ENGINE_QUEUE, GATEWAYS_ALIVE, PLACEMENT
from dreamcommons.server.cluster.owner import SessionOwner
from dreamcommons.server.cluster.wire import pack, unpack
from dreamcommons.server.session import DreamSession

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0  # how often a gateway says it is alive, and how often an engine looks
GATEWAY_SILENT_S = 5.0  # a gateway not heard for this long died: its connections are gone

OpenSession = Callable[[str], Awaitable[DreamSession]]
CloseSession = Callable[[str], Awaitable[None]]


class EngineNode:
    """Answers placement requests as ``owner_id``; ``open_session``/``close_session`` are the
    host's (``DreamServer``): the session's tick loop and everything a session has."""

    def __init__(
        self,
        nc: Client,
        leases: SessionLeases,
        owner_id: str,
        open_session: OpenSession,
        close_session: CloseSession,
        devices: OwnedDevices,
    ) -> None:
        self.nc = nc
        self.devices = devices
        self.leases = leases
        self.owner_id = owner_id
        self._open_session = open_session
        self._close_session = close_session
        self._owned: dict[str, tuple[SessionLease, SessionOwner]] = {}
        self._placing: dict[str, asyncio.Task[str | None]] = {}
        self._subscription: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.leases_lost = 0
        self._alive: Any = None
        self._heard: dict[str, float] = {}  # gateway -> when its heartbeat last came
        self._sweeping: asyncio.Task[None] | None = None

    @property
    def owned(self) -> list[str]:
        return sorted(self._owned)

    async def start(self) -> None:
        self._subscription = await self.nc.subscribe(
            PLACEMENT, queue=ENGINE_QUEUE, cb=self._on_placement
        )
        self._alive = await self.nc.subscribe(GATEWAYS_ALIVE, cb=self._on_heartbeat)
        await self.nc.flush()
        self._sweeping = asyncio.get_running_loop().create_task(
            self._sweep(), name="sweep-gateways"
        )

    async def _on_heartbeat(self, msg: Msg) -> None:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            self._heard[str(unpack(msg.data)["gateway"])] = time.monotonic()

    async def _sweep(self) -> None:
        """Every second: the members of gateways silent for ``GATEWAY_SILENT_S`` are away."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            now = time.monotonic()
            for _, owner in list(self._owned.values()):
                owner.drop_silent(self._heard, now, GATEWAY_SILENT_S)

    async def close(self) -> None:
        """Stop serving and release every lease, so that another engine may own them at once."""
        if self._sweeping is not None:
            self._sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeping
        for subscription in (self._subscription, self._alive):
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
        for session in list(self._owned):
            lease, owner = self._owned.pop(session)
            await owner.stop()
            await self._close_session(session)
            with contextlib.suppress(Exception):  # NATS away: the lease expires by itself
                await lease.release()

    async def _on_placement(self, msg: Msg) -> None:
        try:
            session = str(unpack(msg.data)["session"])
            owner = await self.place(session)
        except (KeyError, ValueError) as error:
            log.warning("unreadable placement request: %s", error)
            owner = None
        with contextlib.suppress(Exception):
            await msg.respond(pack({"owner": owner}))

    async def place(self, session: str) -> str | None:
        """Own ``session`` unless another does; the owner now (None: the claim failed)."""
        if session in self._owned:
            return self.owner_id
        placing = self._placing.get(session)
        if placing is None:
            placing = asyncio.get_running_loop().create_task(self._claim(session))
            self._placing[session] = placing
            placing.add_done_callback(lambda _: self._placing.pop(session, None))
        return await asyncio.shield(placing)

    async def _claim(self, session: str) -> str | None:
        try:
            lease = await self.leases.claim(session, self.owner_id)
        except LeaseHeld as held:
            return held.owner
        except Exception as error:  # NATS away, or the bucket refused: nobody owns it here
            log.warning("session %s: claim failed: %s", session, error)
            return None
        try:
            dream = await self._open_session(session)
        except Exception:
            log.exception("session %s: could not be opened; released", session)
            with contextlib.suppress(Exception):
                await lease.release()
            return None
        owner = SessionOwner(self.nc, dream, self.devices)
        await owner.start()
        self._owned[session] = (lease, owner)
        lease.keep(lambda lost: self._lost(session, lost))
        return self.owner_id

    def _lost(self, session: str, lost: LeaseLost) -> None:
        log.error("%s: closing the session here", lost)
        self.leases_lost += 1
        held = self._owned.pop(session, None)
        if held is None:
            return
        _, owner = held

        async def close() -> None:
            await owner.stop()
            await self._close_session(session)

        task = asyncio.get_running_loop().create_task(close(), name=f"lost-{session}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
