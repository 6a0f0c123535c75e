"""Sending each tick's frame to a session's listeners without ever waiting for one of them.

Every connection's queue is its transport's write buffer, and it is bounded: a connection with
more than ``max_buffered`` bytes unsent misses deltas (it is *behind*). Once it drained below a
quarter of the bound it gets a snapshot of the current state and deltas again; if it stays
behind for ``grace_s`` it is closed with ``CloseCode.SLOW_CONSUMER``. The tick never waits,
so one reader that stopped cannot hold up the dream or anyone else's view of it.

A cluster's gateway forwards frames it did not make: it has a snapshot only when the owner
sent one with the delta. Without one (``catch_up`` None) a connection that could catch up
stays behind for that delta, and ``snapshot_wanted`` says that one should be asked for.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from websockets.asyncio.server import Server, ServerConnection, broadcast
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.protocol import State

from dreamcommons.contracts.errors import CloseCode

log = logging.getLogger(__name__)

Frame = bytes | str


@dataclass(slots=True)
class FanoutStats:
    behind: int = 0  # times a connection fell behind
    resynced: int = 0  # brought back with a snapshot
    dropped: int = 0  # closed for staying behind
    snapshots: int = 0  # sent because the client asked for one (resync)
    folded: int = 0  # asked for while behind: the snapshot it gets on catching up answers it


class Fanout:
    """One session's delivery of frames; ``send`` returns the connections it dropped."""

    def __init__(self, max_buffered: int, grace_s: float) -> None:
        self.max_buffered = max_buffered
        self.grace_s = grace_s
        self.stats = FanoutStats()
        self._behind: dict[ServerConnection, float] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.snapshot_wanted = False  # the last send had no snapshot for one that caught up

    def send(
        self,
        connections: Iterable[ServerConnection],
        frame: Frame,
        catch_up: Callable[[], Frame] | None,
        now: float,
        *,
        resyncing: Collection[ServerConnection] = (),
    ) -> list[ServerConnection]:
        """Send ``frame`` to every connection that keeps up; ``catch_up()`` (a snapshot: the
        same frame each time it is called) instead to one that caught up again or asked for it
        (``resyncing``, unless it is behind: it gets one when it catches up); close the ones
        behind for too long, and return them."""
        self.snapshot_wanted = False
        ready: list[ServerConnection] = []
        dropped: list[ServerConnection] = []
        behind, limit = self._behind, self.max_buffered
        for connection in connections:
            transport = connection.transport
            buffered = 0 if transport.is_closing() else transport.get_write_buffer_size()
            since = behind.get(connection) if behind else None
            if since is None and buffered <= limit:
                if resyncing and connection in resyncing and catch_up is not None:
                    self.stats.snapshots += 1
                    write_once([connection], catch_up())
                else:
                    ready.append(connection)
                continue
            if connection in resyncing:
                self.stats.folded += 1
            if since is None:
                behind[connection] = now
                self.stats.behind += 1
            elif buffered <= limit // 4:
                if catch_up is None:
                    self.snapshot_wanted = True  # caught up, but stays behind until it has one
                    continue
                del behind[connection]
                self.stats.resynced += 1
                write_once([connection], catch_up())
            elif now - since >= self.grace_s:
                del behind[connection]
                self.stats.dropped += 1
                dropped.append(connection)
                self._close(connection, buffered)
        write_once(ready, frame)
        return dropped

    def forget(self, connection: ServerConnection) -> None:
        self._behind.pop(connection, None)

    def _close(self, connection: ServerConnection, buffered: int) -> None:
        log.warning(
            "dropping %s: %d bytes unread for %.1fs",
            connection.remote_address,
            buffered,
            self.grace_s,
        )
        closing = connection.close(CloseCode.SLOW_CONSUMER, "too slow: stopped reading")
        task = asyncio.get_running_loop().create_task(closing, name="close-slow-consumer")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def bound_kernel_buffers(server: Server, size: int) -> None:
    """Cap the kernel send buffer of every socket ``server`` accepts, so that a reader that
    stopped shows up in the transport's buffer (and so in ``Fanout``'s bound) after ``size``
    bytes, not megabytes. Set once on the listening sockets: an accepted socket starts with
    its listener's buffer sizes (Linux and the BSDs), so a connection costs no call for it."""
    for sock in server.sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def write_once(connections: Iterable[ServerConnection], message: Frame) -> None:
    """Send ``message`` to every open connection, as ``websockets.broadcast`` does, but framed
    once for all of them: a server's frames are not masked, so without an extension every
    connection is sent the same bytes. A connection that negotiated one (permessage-deflate
    compresses per connection), or is between the frames of another message, goes through
    ``broadcast``, which frames it for that connection alone."""
    wire: bytes | None = None
    others: list[ServerConnection] = []
    for connection in connections:
        protocol = connection.protocol
        if protocol.state is not State.OPEN:
            continue
        if (
            protocol.extensions
            or protocol.writes
            or protocol.expect_continuation_frame
            or connection.send_in_progress is not None
        ):
            others.append(connection)
            continue
        if wire is None:
            wire = _framed(message)
        try:
            connection.transport.write(wire)
        except Exception as error:  # as broadcast does: the others are still sent it
            log.warning("skipped a frame for %s: %s", connection.remote_address, error)
    if others:
        broadcast(others, message)


def _framed(message: Frame) -> bytes:
    """``message`` as one unmasked WebSocket frame: text for a str, binary for bytes."""
    if isinstance(message, str):
        frame = WireFrame(Opcode.TEXT, message.encode())
    else:
        frame = WireFrame(Opcode.BINARY, message)
    return frame.serialize(mask=False, extensions=[])
