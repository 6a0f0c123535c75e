"""A gateway's part of the cluster: finds each session's owner and relays its deltas here.

A join for a session reads its lease; with no owner, it asks ``dreamcommons.placement`` (one
engine answers, claiming it). So does a session whose connections here heard nothing from its
owner for ``SILENT_S``: once the silent owner's lease expired, another engine takes it over.
The session gets a ``RemoteSession`` (its requests) and a ``DeltaRelay`` (its deltas) on this
gateway, kept while the process runs. An owner asks the gateway to close one of its
connections on ``dreamcommons.gateways.GATEWAY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from websockets.asyncio.server import ServerConnection

from dreamcommons.contracts.protocol import Encoding
from dreamcommons.server.cluster.engine import HEARTBEAT_S
from dreamcommons.server.cluster.errors import SessionMoving
from dreamcommons.server.cluster.lease import SessionLeases
from dreamcommons.server.cluster.names import (
    GATEWAYS_ALIVE,
    PLACEMENT,
    gateway_subject,
    requests_subject,
)
from dreamcommons.server.cluster.relay import DeltaRelay
from dreamcommons.server.cluster.remote_session import RemoteSession
from dreamcommons.server.cluster.wire import pack, unpack
from dreamcommons.server.fanout import Fanout

log = logging.getLogger(__name__)

SILENT_S = 1.0  # ten ticks at the usual 10 Hz: an owner that stopped publishing


class ClusterGateway:
    """The sessions this gateway (``gateway_id``) serves, wherever they are owned."""

    def __init__(
        self,
        nc: Client,
        leases: SessionLeases,
        gateway_id: str,
        *,
        wait_s: float,
        device_wait_s: float = 0.0,
        fanout: Callable[[], Fanout],
        ring_capacity: Callable[[str], int],
    ) -> None:
        self.nc = nc
        self.leases = leases
        self.gateway_id = gateway_id
        self.wait_s = wait_s
        self.device_wait_s = device_wait_s
        self._fanout = fanout
        self._ring_capacity = ring_capacity
        self._sessions: dict[str, RemoteSession] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._connections: dict[str, ServerConnection] = {}
        self._link_ids = itertools.count(1)
        self._subscription: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watching: asyncio.Task[None] | None = None
        self._beating: asyncio.Task[None] | None = None

    @property
    def relays(self) -> list[DeltaRelay]:
        return [session.relay for session in self._sessions.values()]

    def connections_in(self, session_id: str) -> int:
        session = self._sessions.get(session_id)
        return 0 if session is None else session.relay.listener_count()

    async def start(self) -> None:
        subject = gateway_subject(self.gateway_id)
        self._subscription = await self.nc.subscribe(subject, cb=self._on_close_request)
        await self.nc.flush()
        self._watching = asyncio.get_running_loop().create_task(
            self._watch_owners(), name="watch-owners"
        )
        self._beating = asyncio.get_running_loop().create_task(self._beat(), name="heartbeat")

    async def _beat(self) -> None:
        """Say this gateway is alive, so that owners keep its connections' members present."""
        beat = pack({"gateway": self.gateway_id})
        while True:
            await self._publish(GATEWAYS_ALIVE, beat)
            await asyncio.sleep(HEARTBEAT_S)

    async def _watch_owners(self) -> None:
        """Have a session placed again when the connections here stopped hearing its owner."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SILENT_S)
            for session_id, session in list(self._sessions.items()):
                relay = session.relay
                if relay.listener_count() and loop.time() - relay.last_heard > SILENT_S:
                    self._place_later(session_id)

    async def close(self) -> None:
        for task in (self._watching, self._beating):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        for session in self._sessions.values():
            await session.relay.stop()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task

    async def session(self, session_id: str) -> RemoteSession:
        """The session, placed on an engine if no one owns it; ``SessionMoving`` if none
        takes it in ``wait_s``."""
        await self._place(session_id)
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        lock = self._opening.setdefault(session_id, asyncio.Lock())
        async with lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = await self._open(session_id)
        return session

    async def _place(self, session_id: str) -> None:
        try:
            if await self.leases.owner_of(session_id) is not None:
                return
            reply = await self.nc.request(
                PLACEMENT, pack({"session": session_id}), timeout=self.wait_s
            )
        except (TimeoutError, NatsError) as error:
            raise SessionMoving(
                f"no engine took session {session_id} ({error}); try again"
            ) from None
        if unpack(reply.data).get("owner") is None:
            raise SessionMoving(f"no engine could take session {session_id}; try again")

    async def _open(self, session_id: str) -> RemoteSession:
        subject = requests_subject(session_id)

        def ask_snapshot(encoding: Encoding) -> None:
            self.post(subject, pack({"op": "snapshot", "encoding": encoding.value}))

        relay = DeltaRelay(
            self.nc, session_id, self._fanout(), self._ring_capacity(session_id), ask_snapshot
        )
        await relay.start()
        session = RemoteSession(
            self.nc,
            session_id,
            self.gateway_id,
            relay,
            new_link=self._new_link,
            drop_link=self._drop_link,
            post=self.post,
            wait_s=self.wait_s,
            moving=lambda: self._place_later(session_id),
            device_wait_s=self.device_wait_s,
        )
        relay.on_new_epoch = lambda: self._relink(session)
        self._sessions[session_id] = session
        return session

    def _relink(self, session: RemoteSession) -> None:
        task = asyncio.get_running_loop().create_task(session.relink(), name="relink")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _place_later(self, session_id: str) -> None:
        """Its owner did not answer: have it placed again once its lease is gone, so that the
        connections still here get the new owner's deltas (and a snapshot) without a join."""

        async def place() -> None:
            with contextlib.suppress(SessionMoving):
                await self._place(session_id)

        task = asyncio.get_running_loop().create_task(place(), name=f"place-{session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_link(self, connection: ServerConnection) -> str:
        link = f"{self.gateway_id}-{next(self._link_ids)}"
        self._connections[link] = connection
        return link

    def _drop_link(self, link: str) -> None:
        self._connections.pop(link, None)

    def post(self, subject: str, payload: bytes) -> None:
        """Publish without awaiting, from code that may not (a disconnect, a tick's relay)."""
        task = asyncio.get_running_loop().create_task(self._publish(subject, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, subject: str, payload: bytes) -> None:
        try:
            await self.nc.publish(subject, payload)
        except NatsError as error:
            log.warning("not published on %s: %s", subject, error)

    async def _on_close_request(self, msg: Msg) -> None:
        try:
            request = unpack(msg.data)
            connection = self._connections.pop(str(request["link"]), None)
            code, reason = int(request["code"]), str(request["reason"])
        except (KeyError, ValueError, TypeError) as error:
            log.warning("unreadable close request: %s", error)
            return
        if connection is not None:  # the handshake is not awaited here: others may follow
            task = asyncio.get_running_loop().create_task(connection.close(code, reason))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
