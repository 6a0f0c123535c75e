"""The cluster's durable log: each session's events in a JetStream stream, its latest
snapshot in an object store, so that any engine can rebuild the session.

    log = await SessionLog.open(nc)                   # nc: ``connection.connect(...)``
    seq = await log.append("commons", event)          # returns once JetStream has stored it
    async for seq, event in log.read_after("commons", upto):   # the tail after a snapshot
        ...
    await log.save_snapshot("commons", encode_snapshot(engine), seq_of_tick)
    blob, upto = await log.load_snapshot("commons") or (None, 0)

The contract is the SQLite journal's (``server/journal``): events are the journal codec's
(``encode_event``: the kind travels in the ``Dreamcommons-Kind`` header, the payload is its
msgpack map), positions only grow, a snapshot is the engine's versioned format
(``journal.snapshots.encode_snapshot``) saved with the position of the last event it
includes, and the events after that position rebuild the rest. Positions are the stream's
sequence numbers: they grow across every session of the stream, so one session's are not
consecutive, exactly as the journal's are not.

A snapshot is kept in an object store rather than a key-value bucket: a key-value value is
bounded by NATS's ``max_payload`` (1 MB by default), and snapshots grow with the room (about
320 KB at 2,000 participants, 1.6 MB at 10,000); an object is chunked, so its size is not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Final

import msgpack
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import (
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    Header,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from dreamcommons.server.cluster.errors import LogUnavailable
from dreamcommons.server.cluster.names import (
    EVENTS_STREAM,
    SNAPSHOT_BUCKET,
    events_subject,
    events_subjects,
    snapshot_name,
)
from dreamcommons.server.engine import Event
from dreamcommons.server.journal.codec import (
    JournalEvent,
    Tick,
    decode_event,
    encode_event,
    kind_of,
)
from dreamcommons.server.journal.errors import JournalCorrupt
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK

KIND_HEADER: Final = "Dreamcommons-Kind"
APPEND_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 5.0


class SessionLog:
    """The events stream and the snapshot store, as the owner of a session uses them."""

    def __init__(self, nc: Client, snapshots: ObjectStore) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.snapshots = snapshots

    @classmethod
    async def open(cls, nc: Client) -> SessionLog:
        """The stream and the store, created if they do not exist yet (file storage)."""
        js = nc.jetstream()
        try:
            await js.stream_info(EVENTS_STREAM)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=EVENTS_STREAM,
                    subjects=[events_subjects()],
                    storage=StorageType.FILE,
                    retention=RetentionPolicy.LIMITS,
                    discard=DiscardPolicy.NEW,  # refuse when full rather than drop the oldest
                    allow_direct=True,
                )
            )
        try:
            snapshots = await js.object_store(SNAPSHOT_BUCKET)
        except BucketNotFoundError:
            snapshots = await js.create_object_store(SNAPSHOT_BUCKET, storage=StorageType.FILE)
        return cls(nc, snapshots)

    async def append(self, session: str, event: Event | Tick) -> int:
        """Write an event the engine accepted (or a tick); its position, once JetStream has
        acknowledged it (stored). ``LogUnavailable`` if it could not: nothing that waits on it
        may be acknowledged. While NATS is away it refuses at once, sending nothing; an event
        sent whose acknowledgement did not come may still be in the log (as it is in the
        engine that applied it), so a rebuild may hold it: it was only never acknowledged."""
        return await self.append_many(session, [event])

    async def append_many(
        self, session: str, events: Sequence[Event | Tick], ids: Sequence[str] | None = None
    ) -> int:
        """Write ``events`` in order, sent one after the other without waiting and
        acknowledged together: the position of the last, once JetStream stored every one
        (``LogUnavailable`` as ``append``, when any was not). ``ids``, one for each event
        (``Nats-Msg-Id``), make sending them again after a failure harmless: JetStream stores
        an id once within its duplicate window (two minutes) and acknowledges it again."""
        if not self.nc.is_connected:
            raise LogUnavailable(f"session {session}: event not logged: NATS is not connected")
        subject = events_subject(session)
        try:
            acks = []
            for k, event in enumerate(events):
                headers = {KIND_HEADER: kind_of(event)}
                if ids is not None:
                    headers[Header.MSG_ID] = ids[k]
                acks.append(
                    await self.js.publish_async(
                        subject,
                        encode_event(event),
                        wait_stall=APPEND_TIMEOUT_S,
                        stream=EVENTS_STREAM,
                        headers=headers,
                    )
                )
            async with asyncio.timeout(APPEND_TIMEOUT_S):
                stored = await asyncio.gather(*acks)
        except (NatsError, TimeoutError) as exc:
            raise LogUnavailable(f"session {session}: event not logged: {exc}") from exc
        return int(stored[-1].seq)

    async def last_seq(self, session: str) -> int:
        """The position of the session's last event (0: none yet)."""
        try:
            msg = await self.js.get_last_msg(EVENTS_STREAM, events_subject(session))
        except NotFoundError:
            return 0
        except (NatsError, TimeoutError) as exc:
            raise LogUnavailable(f"session {session}: log not readable: {exc}") from exc
        return int(msg.seq or 0)

    async def read_after(self, session: str, seq: int) -> AsyncIterator[tuple[int, JournalEvent]]:
        """The session's events after position ``seq``, in order, up to its last event when
        the read began. ``JournalCorrupt`` for an event the codec cannot read."""
        last = await self.last_seq(session)
        if last <= seq:
            return
        try:
            subscription = await self.js.subscribe(
                events_subject(session),
                stream=EVENTS_STREAM,
                ordered_consumer=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq + 1
                ),
            )
        except (NatsError, TimeoutError) as exc:
            raise LogUnavailable(f"session {session}: log not readable: {exc}") from exc
        try:
            position = seq
            while position < last:
                try:
                    msg = await subscription.next_msg(timeout=READ_TIMEOUT_S)
                except NatsTimeoutError:
                    raise LogUnavailable(
                        f"session {session}: log read stopped at {position} of {last}"
                    ) from None
                position = msg.metadata.sequence.stream
                kind = (msg.headers or {}).get(KIND_HEADER)
                if kind is None:
                    raise JournalCorrupt(f"session {session}: event {position} has no kind")
                yield position, decode_event(kind, msg.data)
        finally:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await subscription.unsubscribe()

    async def save_snapshot(self, session: str, blob: bytes, log_seq: int) -> None:
        """Keep ``blob`` (``encode_snapshot(engine)``) as the session's snapshot, taken once
        the engine had consumed every event up to ``log_seq``. It replaces the previous one
        whole: a reader gets the old or the new, never a mix."""
        record: bytes = msgpack.packb(
            {"log_seq": log_seq, "encoding": SNAPSHOT_MSGPACK, "snapshot": blob},
            use_bin_type=True,
        )
        try:
            await self.snapshots.put(snapshot_name(session), record)
        except (NatsError, TimeoutError) as exc:
            raise LogUnavailable(f"session {session}: snapshot not saved: {exc}") from exc

    async def load_snapshot(self, session: str) -> tuple[bytes, int] | None:
        """The session's latest snapshot and the position of the last event it includes;
        None if it has none (rebuild from its first event). ``JournalCorrupt`` if it cannot
        be read."""
        try:
            result = await self.snapshots.get(snapshot_name(session))
        except ObjectNotFoundError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise LogUnavailable(f"session {session}: snapshot not readable: {exc}") from exc
        try:
            record = msgpack.unpackb(result.data or b"", raw=False)
            blob, log_seq, encoding = record["snapshot"], record["log_seq"], record["encoding"]
        except Exception as exc:  # msgpack raises several unrelated types for bad input
            raise JournalCorrupt(f"session {session}: snapshot record damaged ({exc})") from None
        if (
            encoding != SNAPSHOT_MSGPACK
            or not isinstance(blob, bytes)
            or not isinstance(log_seq, int)
        ):
            raise JournalCorrupt(f"session {session}: snapshot record of an unknown form")
        return blob, log_seq
