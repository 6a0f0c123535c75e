"""The cluster (``docs/cluster.md``). Its NATS parts: a NATS process, the connection every
process makes, the names of buckets, streams and subjects, the session lease and the durable
log. Its roles: ``node.ClusterNode`` (what ``--cluster`` starts), an engine's placement and
owning (``engine``, ``owner``, ``log_journal``, ``members``, ``rebuild``) and a gateway's side
(``gateway_node``, ``remote_session``, ``relay``).

    async with NatsProcess() as nats_server:
        nc = await connect(nats_server.url, name="engine-a")
        leases = await SessionLeases.open(nc)
        log = await SessionLog.open(nc)
"""

from dreamcommons.server.cluster.connection import connect
from dreamcommons.server.cluster.errors import (
    ClusterError,
    LeaseHeld,
    LeaseLost,
    LogUnavailable,
    NatsUnavailable,
)
from dreamcommons.server.cluster.lease import LeaseChange, SessionLease, SessionLeases
from dreamcommons.server.cluster.log import SessionLog
from dreamcommons.server.cluster.process import NatsProcess, find_nats_server

__all__ = [
    "ClusterError",
    "LeaseChange",
    "LeaseHeld",
    "LeaseLost",
    "LogUnavailable",
    "NatsProcess",
    "NatsUnavailable",
    "SessionLease",
    "SessionLeases",
    "SessionLog",
    "connect",
    "find_nats_server",
]
