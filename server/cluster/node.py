"""One process's place in the cluster (``--cluster``): its NATS connection and its roles.

``role`` ``all`` is a gateway and an engine at once (and, given a device broker, an ingest),
``gateway`` serves WebSockets only, ``engine`` owns sessions only and ``ingest`` serves the
devices of the cluster on its broker only (``ingest.py``). Its id (``NODE-xxxxxx``:
``--node``, else the server name, and a part drawn at each start) names it in leases and
subjects, once: a restarted process is another owner.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from nats.aio.client import Client
from nats.errors import Error as NatsError

from dreamcommons.server.cluster.connection import connect
from dreamcommons.server.cluster.devices import OwnedDevices
from dreamcommons.server.cluster.engine import EngineNode
from dreamcommons.server.cluster.errors import NatsUnavailable, SessionMoving
from dreamcommons.server.cluster.gateway_node import ClusterGateway
from dreamcommons.server.cluster.ingest import IngestNode
from dreamcommons.server.cluster.lease import SessionLeases
from dreamcommons.server.cluster.log import SessionLog
from dreamcommons.server.cluster.log_journal import LogJournal
from dreamcommons.server.cluster.members import SessionMembers
from dreamcommons.server.cluster.metrics import ClusterStatistics
from dreamcommons.server.cluster.rebuild import readmit, rebuild
from dreamcommons.server.cluster.remote_session import RemoteSession
from dreamcommons.server.recovery import fanout
from dreamcommons.server.session import DreamSession
from dreamcommons.server.settings import ServerSettings

if TYPE_CHECKING:
    from dreamcommons.server.gateway import DreamServer

log = logging.getLogger(__name__)


class ClusterNode:
    def __init__(self, host: DreamServer, settings: ServerSettings) -> None:
        assert settings.cluster is not None
        self.host = host
        self.settings = settings
        self.url = settings.cluster
        self.role = settings.role
        self.id = f"{settings.node or settings.server_name}-{secrets.token_hex(3)}"
        self.nc: Client | None = None
        self.engine: EngineNode | None = None
        self.gateway: ClusterGateway | None = None
        self.ingest: IngestNode | None = None
        self.devices: OwnedDevices | None = None
        self.log: SessionLog | None = None
        self.members: SessionMembers | None = None
        self.leases: SessionLeases | None = None
        host.metrics.registry.register(ClusterStatistics(self))

    async def start(self) -> None:
        self.nc = await connect(self.url, name=self.id)
        self.leases = leases = await SessionLeases.open(self.nc)
        if self.role in ("all", "engine"):
            self.log = await SessionLog.open(self.nc)
            self.members = await SessionMembers.open(self.nc)
            self.devices = OwnedDevices(self.nc, wait_s=self._device_wait_s)
            self.host.devices.pace_elsewhere = self.devices.pace
            self.engine = EngineNode(
                self.nc, leases, self.id, self._open_owned, self.host.close_session, self.devices
            )
            await self.engine.start()
        if self.role in ("all", "gateway"):
            self.gateway = ClusterGateway(
                self.nc,
                leases,
                self.id,
                wait_s=self.settings.cluster_wait_s,
                device_wait_s=self._device_wait_s + self.settings.cluster_wait_s,
                fanout=lambda: fanout(self.settings),
                ring_capacity=self._ring_capacity,
            )
            await self.gateway.start()
        broker = self.settings.broker
        if broker is not None and self.role in ("all", "ingest"):
            wait_s = self.settings.device_command_wait_s
            self.ingest = IngestNode(self.nc, broker, self.id, command_wait_s=wait_s)
            await self.ingest.start()
        elif broker is not None:
            log.warning(
                "--broker is ignored by a %s: the cluster's ingests hear devices", self.role
            )
        log.info("cluster node %s (%s) on %s", self.id, self.role, self.url)

    async def close(self) -> None:
        if self.ingest is not None:
            await self.ingest.close()
        if self.engine is not None:
            await self.engine.close()
        if self.gateway is not None:
            await self.gateway.close()
        if self.nc is not None:
            await self.nc.close()

    async def session(self, session_id: str) -> RemoteSession:
        if self.gateway is None:
            raise SessionMoving("this process only owns sessions: join through a gateway")
        return await self.gateway.session(session_id)

    def health(self) -> dict[str, object]:
        """For ``/healthz``: who this is, whether NATS is there, which sessions it owns."""
        return {
            "node": self.id,
            "role": self.role,
            "nats": "ok" if self.nc is not None and self.nc.is_connected else "unavailable",
            "owns": [] if self.engine is None else self.engine.owned,
            **({} if self.devices is None else {"devices": self.devices.health()}),
            **({} if self.ingest is None else {"ingest": self.ingest.health()}),
        }

    async def sessions(self) -> dict[str, str]:
        """Every session the cluster knows, with its owner: the leases bucket (a session
        whose owner died is there again once another engine took it)."""
        if self.leases is None:
            raise NatsUnavailable("not connected to the cluster's NATS yet")
        try:
            return await self.leases.owners()
        except NatsError as error:
            raise NatsUnavailable(f"the leases could not be read: {error}") from error

    def connections_in(self, session_id: str) -> int:
        """The connections through this process in a session (0 on an engine alone)."""
        return 0 if self.gateway is None else self.gateway.connections_in(session_id)

    async def _open_owned(self, session_id: str) -> DreamSession:
        """A session this engine now owns, as the cluster's log holds it (a new epoch); its
        events go to that log from now on."""
        assert self.log is not None
        assert self.members is not None
        venue = self.host.venue_of(session_id)
        engine = await rebuild(self.log, session_id, venue)
        kept = [] if engine is None else await self.members.of(session_id)
        every = round(self.settings.snapshot_every_s * venue.tick_hz)
        durability = LogJournal(self.log, self.members, session_id, snapshot_every=every)
        session = self.host.session(session_id, durability=durability, engine=engine)
        readmit(kept, session)  # before its first tick: nothing is awaited since it opened
        return session

    @property
    def _device_wait_s(self) -> float:
        """How long an owner waits for an ingest's answer: a device's ack, and the way there."""
        return self.settings.device_command_wait_s + self.settings.cluster_wait_s

    def _ring_capacity(self, session_id: str) -> int:
        venue = self.host.venue_of(session_id)
        return round(self.settings.recent_deltas_s * venue.tick_hz)
