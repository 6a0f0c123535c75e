"""The members of the cluster's sessions, in a key-value bucket: what a new owner needs so
that they can resume with their tokens after a takeover.

    dreamcommons-members    key SESSION.PID (the id in hex) -> msgpack {pid, name, role, token_hash}

A member's key is written when they join and deleted when they leave for good (removed by the
host, or forgotten after the resume window), in order with the session's events
(``LogJournal``). Only the token's hash is kept, as in the SQLite journal.
"""

from __future__ import annotations

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from dreamcommons.server.cluster.errors import LogUnavailable
from dreamcommons.server.cluster.names import MEMBERS_BUCKET, member_key, member_keys
from dreamcommons.server.cluster.wire import pack, unpack
from dreamcommons.server.journal import RecoveredMember


class SessionMembers:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, nc: Client) -> SessionMembers:
        js = nc.jetstream()
        try:
            kv = await js.key_value(MEMBERS_BUCKET)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(bucket=MEMBERS_BUCKET, history=1, storage=StorageType.FILE)
            )
        return cls(kv)

    async def joined(self, session: str, pid: str, name: str, role: str, token_hash: str) -> None:
        record = pack({"pid": pid, "name": name, "role": role, "token_hash": token_hash})
        try:
            await self.kv.put(member_key(session, pid), record)
        except (NatsError, TimeoutError) as error:
            raise LogUnavailable(f"session {session}: member {pid} not kept: {error}") from error

    async def left(self, session: str, pid: str) -> None:
        try:
            await self.kv.delete(member_key(session, pid))
        except KeyNotFoundError:
            return
        except (NatsError, TimeoutError) as error:
            raise LogUnavailable(
                f"session {session}: member {pid} not forgotten: {error}"
            ) from error

    async def of(self, session: str) -> list[RecoveredMember]:
        """Every member the session keeps, in the order they joined."""
        watcher = await self.kv.watch(member_keys(session), ignore_deletes=True)
        members: list[tuple[int, RecoveredMember]] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.value is None:
                    continue
                record = unpack(entry.value)
                member = RecoveredMember(
                    record["pid"], record["name"], record["role"], record["token_hash"]
                )
                members.append((entry.revision or 0, member))
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return [member for _, member in sorted(members, key=lambda kept: kept[0])]
