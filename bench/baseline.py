"""A bare websockets + msgpack broadcast server of the "commons" workload: the baseline.

    python -m bench.baseline --port 8765     # what bench.commons starts beside dreamcommons

No rules, no journal, no devices: the shape of a well-built room server, and the ceiling a
Python server reaches on this workload. It speaks just enough of the dreamcommons wire for
the same load generator (``bench.loadgen``) to drive it unchanged: ``join`` is answered with
a ``welcome`` (a participant id and a snapshot), ``contribute`` with an ``ack``, and 10 times
a second one ``delta`` (``seq``, the weights of the motifs that changed, who joined and left,
and ``applied``: the highest contribution merged per participant who contributed in that
tick) is encoded once with msgpack (floats as float32, fields only when there is something
in them) and sent to everyone with ``websockets.broadcast``. A tick in which nothing changed
sends nothing. ``/metrics`` serves the tick histogram under the name
the bench reads for dreamcommons, so that both rows fill the same columns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import msgpack
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

SUBPROTOCOL = Subprotocol("dreamcommons.v2.msgpack")
TICK_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
)  # fmt: skip


@dataclass(slots=True)
class Room:
    """One session: who is in, the motifs, and what changed since the last tick."""

    session: str
    tick_hz: float
    seq: int = 0
    connections: set[ServerConnection] = field(default_factory=set)
    motifs: dict[str, float] = field(default_factory=dict)  # name -> sum of intensities
    touched: set[str] = field(default_factory=set)
    applied: dict[str, int] = field(default_factory=dict)
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    _next_id: int = 0

    def seat(self) -> str:
        self._next_id += 1
        pid = f"p{self._next_id:x}"
        self.joined.append(pid)
        return pid

    def welcome(self, pid: str) -> bytes:
        state = {"session": self.session, "seq": self.seq,
                 "motifs": self.motifs,
                 "present": len(self.connections) + 1}  # fmt: skip
        return _pack({"type": "welcome", "v": 1, "participant": pid, "resume": "",
                      "tick_hz": self.tick_hz, "state": state})  # fmt: skip

    def contribute(self, pid: str, message: dict[str, Any]) -> bytes:
        """Fold one contribution in (no rules: no equity cap, no decay); the ack, or an error."""
        cid, motif = message.get("cid"), message.get("motif")
        values = [message.get(key) for key in ("valence", "arousal", "intensity")]
        if not isinstance(cid, int) or not isinstance(motif, str) or len(motif) > 64:
            return _error("bad_frame", "contribute needs an integer cid and a motif name")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return _error("bad_frame", "valence, arousal and intensity are numbers", cid)
        intensity = float(values[2])  # type: ignore[arg-type]
        self.motifs[motif] = self.motifs.get(motif, 0.0) + intensity
        self.touched.add(motif)
        self.applied[pid] = cid
        return _pack({"type": "ack", "cid": cid})

    def delta(self) -> bytes | None:
        """This tick's changes, encoded once; None when nothing changed."""
        self.seq += 1
        if not (self.touched or self.applied or self.joined or self.left):
            return None
        delta: dict[str, Any] = {"type": "delta", "seq": self.seq, "t": self.seq / self.tick_hz,
                                 "applied": self.applied}  # fmt: skip
        if self.touched:
            delta["motifs"] = {name: self.motifs[name] for name in self.touched}
        if self.joined:
            delta["participants"] = self.joined
        if self.left:
            delta["left"] = self.left
        frame = _pack(delta)
        self.touched, self.applied, self.joined, self.left = set(), {}, [], []
        return frame


def _pack(message: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(message, use_single_float=True)
    return packed


def _error(code: str, text: str, ref: int | None = None) -> bytes:
    return _pack({"type": "error", "code": code, "message": text, "ref": ref})


class BaselineServer:
    """Every session on one port; each ticks on its own fixed schedule."""

    def __init__(self, tick_hz: float) -> None:
        self.tick_hz = tick_hz
        self.rooms: dict[str, Room] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.tick_seconds = Histogram("dreamcommons_tick_seconds",
                                      "Time to encode and broadcast one tick (baseline).",
                                      buckets=TICK_BUCKETS, registry=self.registry)  # fmt: skip
        self._tickers: set[asyncio.Task[None]] = set()

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != "/metrics":
            return None
        body = generate_latest(self.registry)
        headers = Headers([("Content-Type", CONTENT_TYPE_LATEST),
                           ("Content-Length", str(len(body)))])  # fmt: skip
        return Response(HTTPStatus.OK.value, "OK", headers, body)

    async def handle(self, connection: ServerConnection) -> None:
        room, pid = None, ""
        try:
            async for data in connection:
                try:
                    message = msgpack.unpackb(data)
                except ValueError:
                    await connection.send(_error("bad_frame", "not msgpack"))
                    continue
                kind = message.get("type") if isinstance(message, dict) else None
                if room is None:
                    session = message.get("session") if kind == "join" else None
                    if not isinstance(session, str):
                        await connection.send(_error("not_joined", "join a session first"))
                        continue
                    room = self._room(session)
                    pid = room.seat()
                    await connection.send(room.welcome(pid))
                    room.connections.add(connection)
                elif kind == "contribute":
                    await connection.send(room.contribute(pid, message))
                else:
                    await connection.send(_error("bad_frame", f"unknown message {kind!r}"))
        except ConnectionClosed:
            pass
        finally:
            if room is not None:
                room.connections.discard(connection)
                room.left.append(pid)

    def _room(self, session: str) -> Room:
        room = self.rooms.get(session)
        if room is None:
            room = self.rooms[session] = Room(session, self.tick_hz)
            self._spawn(self._tick(room))
        return room

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tickers.add(task)
        task.add_done_callback(self._tickers.discard)

    async def _tick(self, room: Room) -> None:
        """Tick k at start + k / tick_hz, without drift; a late tick runs at once."""
        period = 1.0 / self.tick_hz
        start = time.monotonic()
        k = 0
        while True:
            k += 1
            await asyncio.sleep(max(0.0, start + k * period - time.monotonic()))
            began = time.perf_counter()
            frame = room.delta()
            if frame is not None:
                broadcast(room.connections, frame)
            self.tick_seconds.observe(time.perf_counter() - began)


async def serve_until_signalled(port: int, tick_hz: float) -> None:
    server = BaselineServer(tick_hz)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(server.handle, "127.0.0.1", port, subprotocols=[SUBPROTOCOL],
                     process_request=server.http, ping_interval=20, ping_timeout=20):  # fmt: skip
        print(f"baseline listening on ws://127.0.0.1:{port}/", flush=True)
        await stop


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.baseline", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tick-hz", type=float, default=10.0, help="ticks a second (10)")
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="uvloop, as the dreamcommons host runs by default")  # fmt: skip
    args = parser.parse_args()
    serving = serve_until_signalled(args.port, args.tick_hz)
    with contextlib.suppress(KeyboardInterrupt):
        if args.event_loop == "uvloop":
            import uvloop

            uvloop.run(serving)
        else:
            asyncio.run(serving)
    return 0


if __name__ == "__main__":
    sys.exit(main())
