"""A gateway's copy of one session's deltas: what the owner published, to local listeners.

The relay subscribes to the session's delta subjects (both encodings) and hands each frame, as
the bytes it came in, to the connections here that listen in that encoding, through ``Fanout``
(slow readers as in one process). It keeps the frames in a ``RecentDeltas`` ring too: a
connection that joins gets those the owner published after its welcome and before it listened.
A snapshot comes only when asked for (``ask_snapshot``): for a connection that resyncs or
caught up, with the next delta. A delta of another epoch (a new owner took the session over)
starts a new history: every listener gets nothing more until it gets the new owner's snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from websockets.asyncio.server import ServerConnection

from dreamcommons.contracts.protocol import Encoding
from dreamcommons.server.cluster.names import deltas_subject
from dreamcommons.server.cluster.wire import (
    EPOCH_HEADER,
    KIND_HEADER,
    SEQ_HEADER,
    SNAPSHOT,
    as_frame,
)
from dreamcommons.server.fanout import Fanout
from dreamcommons.server.recent_deltas import Frame, RecentDeltas

AskSnapshot = Callable[[Encoding], None]


class DeltaRelay:
    """Session ``session``'s deltas, forwarded to this gateway's listeners."""

    def __init__(
        self,
        nc: Client,
        session: str,
        fanout: Fanout,
        capacity: int,
        ask_snapshot: AskSnapshot,
    ) -> None:
        self.nc = nc
        self.session = session
        self.fanout = fanout
        self.capacity = capacity
        self.recent: RecentDeltas[Encoding] = RecentDeltas(capacity)
        self.epoch: str | None = None
        self._stale: set[ServerConnection] = set()  # of an old epoch: wait for a snapshot
        self.last_seq: dict[Encoding, int] = {}
        self._ask_snapshot = ask_snapshot
        self._listeners: dict[Encoding, set[ServerConnection]] = {e: set() for e in Encoding}
        self._encodings: dict[ServerConnection, Encoding] = {}
        self._from: dict[ServerConnection, int] = {}  # joined at this seq: only later deltas
        self._resyncing: set[ServerConnection] = set()
        self._snapshots: dict[Encoding, tuple[int, Frame]] = {}
        self._subscriptions: list[Any] = []
        self.on_new_epoch: Callable[[], None] | None = None  # a takeover: told once each
        self.last_heard = asyncio.get_running_loop().time()  # when the owner last published

    async def start(self) -> None:
        for encoding in Encoding:
            subject = deltas_subject(self.session, encoding)
            callback = self._receiver(encoding)
            self._subscriptions.append(await self.nc.subscribe(subject, cb=callback))
        await self.nc.flush()  # subscribed at the server: nothing published from now is missed

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def listener_count(self) -> int:
        return len(self._encodings)

    def welcomed(self, epoch: str) -> None:
        """A connection was welcomed in ``epoch``: the history this relay follows, if it heard
        none yet, so that an owner that dies before its first delta came here is still seen
        to be replaced when its successor's deltas come."""
        if self.epoch is None:
            self.epoch = epoch

    def listen(self, connection: ServerConnection, encoding: Encoding, seq: int) -> list[Frame]:
        """Forward to ``connection`` every delta after ``seq`` (its welcome's, or its replay's
        end); the frames after ``seq`` that came before now, to send after the welcome."""
        self._listeners[encoding].add(connection)
        self._encodings[connection] = encoding
        last = self.last_seq.get(encoding, seq)
        if last <= seq:
            self._from[connection] = seq
            return []
        missed = self.recent.after(encoding, seq, last)
        if missed is None:  # not held here: the state it needs comes with the next snapshot
            self.resync(connection)
            return []
        return missed

    def forget(self, connection: ServerConnection) -> None:
        encoding = self._encodings.pop(connection, None)
        if encoding is not None:
            self._listeners[encoding].discard(connection)
        self._from.pop(connection, None)
        self._stale.discard(connection)
        self._resyncing.discard(connection)
        self.fanout.forget(connection)

    def resync_pending(self, connection: ServerConnection) -> bool:
        return connection in self._resyncing

    def resync(self, connection: ServerConnection) -> None:
        encoding = self._encodings.get(connection)
        if encoding is not None:
            self._resyncing.add(connection)
            self._ask_snapshot(encoding)

    def _receiver(self, encoding: Encoding) -> Callable[[Msg], Any]:
        async def receive(msg: Msg) -> None:
            headers = msg.headers or {}
            self.last_heard = asyncio.get_running_loop().time()
            seq = int(headers[SEQ_HEADER])
            frame = as_frame(msg.data, encoding)
            self._follow_epoch(headers.get(EPOCH_HEADER, ""))
            if headers.get(KIND_HEADER) == SNAPSHOT:
                self._snapshots[encoding] = (seq, frame)
            else:
                self.forward(encoding, seq, frame)

        return receive

    def _follow_epoch(self, epoch: str) -> None:
        if epoch == self.epoch:
            return
        if self.epoch is not None:  # a takeover: what this gateway holds is of another history
            self._stale |= set(self._encodings)
            self._from.clear()
            self._snapshots.clear()
            self.recent = RecentDeltas(self.capacity)
            self.last_seq.clear()
            self.epoch = epoch
            if self.on_new_epoch is not None:
                self.on_new_epoch()
        self.epoch = epoch

    def forward(self, encoding: Encoding, seq: int, frame: Frame) -> None:
        self.recent.record(encoding, seq, frame)
        self.last_seq[encoding] = seq
        connections = self._listeners[encoding]
        if not connections:
            return
        targets: set[ServerConnection] = connections
        stale = self._stale & connections
        if stale:
            targets = connections - stale
        if self._from:
            early = {c for c in connections if self._from.get(c, -1) >= seq}
            for connection in [c for c in self._from if self._from[c] < seq]:
                del self._from[connection]
            targets = targets - early
        snapshot = self._snapshots.pop(encoding, None)
        catch_up = None
        resyncing: set[ServerConnection] = set()
        if snapshot is not None and snapshot[0] == seq:
            snapshot_frame = snapshot[1]
            catch_up = lambda: snapshot_frame  # noqa: E731
            resyncing = (self._resyncing & targets) | stale
            self._resyncing -= resyncing
            self._stale -= stale
            targets = targets | stale
        now = asyncio.get_running_loop().time()
        for dropped in self.fanout.send(targets, frame, catch_up, now, resyncing=resyncing):
            self.forget(dropped)
        if self.fanout.snapshot_wanted or any(
            self._encodings.get(c) is encoding for c in self._resyncing | self._stale
        ):
            self._ask_snapshot(encoding)
