"""The load generator's participants: light WebSocket peers that speak the real protocol.

A thousand ``websockets`` client connections, each with its own reading task, cost more than
one core can give; so each bench participant is an ``asyncio.Protocol`` driving websockets'
own sans-I/O ``ClientProtocol`` (handshake, framing, masking, answering pings), with no task
of its own. Probe participants decode every frame; the others only count them and decode
the few replies they wait for (welcome, paired). Contributions go out from ``call_at``
timers on the fixed schedule of BENCH.md, and every time is read from one monotonic clock.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from dreamcommons.contracts.protocol import applied_cid, applied_map

SUBPROTOCOL = Subprotocol("dreamcommons.v2.msgpack")


@dataclass(slots=True)
class Latencies:
    """Contribution-to-screen latencies in seconds, for contributions sent in the window."""

    own: list[float] = field(default_factory=list)
    observer: list[float] = field(default_factory=list)


class Window:
    """The steady window: only contributions sent inside it are measured."""

    def __init__(self) -> None:
        self.start = float("inf")
        self.end = float("inf")

    def holds(self, sent_at: float) -> bool:
        return self.start <= sent_at < self.end


class BenchParticipant(asyncio.Protocol):
    """One participant on its own connection: joins, maybe pairs a device, contributes."""

    def __init__(
        self,
        index: int,
        url: str,
        session: str,
        *,
        probe: bool,
        window: Window,
        latencies: Latencies,
    ) -> None:
        self.index = index
        self.session = session
        self.probe = probe
        self.pid = ""
        self.frames = 0
        self.bytes = 0
        self.sent: dict[int, float] = {}  # cid -> send time, for contributions in the window
        self.own_seen = 0
        self.observed: dict[str, int] = {}  # as observer: pid -> highest cid seen applied
        self.by_pid: dict[str, BenchParticipant] = {}
        self.closed = asyncio.Event()
        self._window = window
        self._latencies = latencies
        self._protocol = ClientProtocol(parse_uri(url), subprotocols=[SUBPROTOCOL], max_size=None)
        self._transport: asyncio.Transport | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._cid = 0

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._protocol.send_request(self._protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode in (Opcode.BINARY, Opcode.TEXT):
                    self._on_message(bytes(event.data))
            elif isinstance(event, Response) and not self._open.done():
                if self._protocol.handshake_exc is not None:
                    self._open.set_exception(self._protocol.handshake_exc)
                else:
                    self._open.set_result(None)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        if not self._open.done():
            self._open.set_exception(ConnectionError(f"participant {self.index}: {exc}"))
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(ConnectionError(f"participant {self.index} lost"))

    # --- the protocol --------------------------------------------------------------------

    async def join(self) -> None:
        await self._open
        welcome = await self._request("welcome", {"type": "join", "session": self.session,
                                                  "name": f"bench{self.index}"})  # fmt: skip
        self.pid = welcome["participant"]

    async def pair(self, code: str) -> None:
        self._cid += 1
        await self._request("paired", {"type": "pair", "cid": self._cid, "code": code})

    def contribute(self, motif: str, valence: float, arousal: float, intensity: float) -> None:
        self._cid += 1
        now = time.monotonic()
        if self._window.holds(now):
            self.sent[self._cid] = now
        self._send({"type": "contribute", "cid": self._cid, "motif": motif,
                    "valence": valence, "arousal": arousal, "intensity": intensity})  # fmt: skip

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _request(self, reply_type: str, message: dict[str, Any]) -> dict[str, Any]:
        reply = self._replies[reply_type] = asyncio.get_running_loop().create_future()
        self._send(message)
        try:
            answer: dict[str, Any] = await reply
            return answer
        finally:
            del self._replies[reply_type]

    def _send(self, message: dict[str, Any]) -> None:
        self._protocol.send_binary(msgpack.packb(message))
        self._flush()

    def _flush(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        for chunk in self._protocol.data_to_send():
            if chunk:
                self._transport.write(chunk)
            else:
                self._transport.close()

    def _on_message(self, data: bytes) -> None:
        self.frames += 1
        self.bytes += len(data)
        if not self.probe and not self._replies:
            return  # counted, not decoded: decoding every frame is the probes' job
        message = msgpack.unpackb(data)
        kind = message.get("type")
        waiting = self._replies.get(kind)
        if waiting is not None and not waiting.done():
            waiting.set_result(message)
        elif kind == "error" and self._replies:
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(RuntimeError(f"{message['code']}: {message['message']}"))
        elif kind == "delta" and self.probe:
            applied = message.get("applied", [])
            if self.by_pid:
                self._on_delta(_applied(applied), time.monotonic())
            else:
                self._on_own(_own_cid(applied, self.pid), time.monotonic())

    def _on_delta(self, applied: dict[str, int], now: float) -> None:
        """The observer's reading of a delta: its own contributions and every probe's."""
        self._on_own(applied.get(self.pid), now)
        for pid, cid in applied.items():
            sender = self.by_pid.get(pid)
            if sender is None:
                continue
            for seen in range(self.observed.get(pid, 0) + 1, cid + 1):
                sent_at = sender.sent.get(seen)
                if sent_at is not None:
                    self._latencies.observer.append(now - sent_at)
            self.observed[pid] = max(self.observed.get(pid, 0), cid)

    def _on_own(self, mine: int | None, now: float) -> None:
        if mine is not None:
            for cid in range(self.own_seen + 1, mine + 1):
                sent_at = self.sent.get(cid)
                if sent_at is not None:
                    self._latencies.own.append(now - sent_at)
            self.own_seen = max(self.own_seen, mine)


def _applied(value: object) -> dict[str, int]:
    """A delta's ``applied``: dreamcommons sends pairs (docs/protocol.md), the baseline the
    plain map of id to cid that a bare broadcast sends."""
    return dict(value) if isinstance(value, dict) else applied_map(value)


def _own_cid(value: object, pid: str) -> int | None:
    """A probe's own entry of a delta's ``applied``, read the way a client reads it: without
    making the map of every contributor, which cost the load generator's core a sixth of its
    time on dreamcommons' frames alone when 50 probes each made it."""
    if isinstance(value, dict):
        cid: int | None = value.get(pid)
        return cid
    return applied_cid(value, pid)


@dataclass(frozen=True, slots=True)
class Schedule:
    """BENCH.md's contributions: one a second per participant, from a random phase."""

    motifs: Sequence[str]
    seed: int = 1

    def start(
        self, participants: Sequence[BenchParticipant], t0: float, until: float
    ) -> Callable[[], None]:
        """Arm the timers; the returned function disarms them."""
        loop = asyncio.get_running_loop()
        rng = random.Random(self.seed)
        handles: dict[int, asyncio.TimerHandle] = {}
        offset = loop.time() - time.monotonic()  # loop time and the monotonic clock may differ

        def fire(participant: BenchParticipant, k: int, phase: float) -> None:
            participant.contribute(
                rng.choice(self.motifs),
                round(rng.uniform(-1.0, 1.0), 3),
                round(rng.uniform(0.0, 1.0), 3),
                round(rng.uniform(0.2, 1.0), 3),
            )
            at = t0 + phase + k
            if at < until:
                handles[participant.index] = loop.call_at(
                    at + offset, fire, participant, k + 1, phase
                )

        for participant in participants:
            phase = rng.random()
            handles[participant.index] = loop.call_at(
                t0 + phase + offset, fire, participant, 1, phase
            )

        def stop() -> None:
            for handle in handles.values():
                handle.cancel()

        return stop


async def connect_all(
    url: str | Sequence[str],
    session: str,
    count: int,
    probes: int,
    window: Window,
    latencies: Latencies,
    *,
    parallel: int = 50,
) -> list[BenchParticipant]:
    """Open and join ``count`` participants, ``parallel`` at a time; the first is the observer.
    Given several URLs (the gateways of a cluster), participant ``i`` joins through the
    ``i % len(urls)``-th."""
    loop = asyncio.get_running_loop()
    urls = [url] if isinstance(url, str) else list(url)
    step = max(1, count // max(1, probes))
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> BenchParticipant:
        address = urls[index % len(urls)]
        parts = parse_uri(address)
        async with gate:
            _, participant = await loop.create_connection(
                lambda: BenchParticipant(
                    index,
                    address,
                    session,
                    probe=index % step == 0,
                    window=window,
                    latencies=latencies,
                ),
                parts.host,
                parts.port,
            )
            await participant.join()
            return participant

    participants = list(await asyncio.gather(*(one(i) for i in range(count))))
    participants[0].by_pid = {p.pid: p for p in participants}
    return participants
