"""The owner's side of a session in the cluster: answers gateways, publishes every delta.

A ``SessionOwner`` serves one ``DreamSession`` this process owns (its lease is the engine's,
``engine.py``). Gateways send it requests on ``dreamcommons.owner.SESSION.requests``:

    join      {link, gateway, encoding, join (msgpack frame), join_code}
              -> {ok: {pid, name, role, seq, resume, epoch, frames}}: the welcome and a replay
    message   {link, message (msgpack frame)}  contribute, whisper, share, host, people,
              pair, command -> {ok: frame}: the ack (once the event is in the durable log),
              the page, or the ``paired``/``command_result`` (an ingest process asked)
    snapshot  {encoding}   no reply: the next delta in that encoding comes with a snapshot
    leave     {link}       no reply: the connection is gone, the member is away

A refusal is ``{error: {code, message}}``, the session's own ``ErrorCode``. Each delta is
published once per encoding on ``dreamcommons.deltas.SESSION.ENCODING`` (headers: its seq and
kind), in order, by one task: the tick only queues it. Device batches routed by the ingest
processes come on ``dreamcommons.owner.SESSION.samples`` (``devices.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import BaseModel

from dreamcommons.contracts.errors import ErrorCode, NotAllowed, ProtocolError
from dreamcommons.contracts.protocol import (
    Command,
    Contribute,
    Encoding,
    HostAction,
    Join,
    Pair,
    People,
    Share,
    Whisper,
    decode_client,
    encode,
)
from dreamcommons.server.cluster.devices import OwnedDevices
from dreamcommons.server.cluster.names import (
    deltas_subject,
    gateway_subject,
    requests_subject,
    samples_subject,
)
from dreamcommons.server.cluster.wire import (
    DELTA,
    EPOCH_HEADER,
    KIND_HEADER,
    SEQ_HEADER,
    SNAPSHOT,
    frame_bytes,
    pack,
    refusal,
    unpack,
)
from dreamcommons.server.recent_deltas import Frame
from dreamcommons.server.remote_link import RemoteLink
from dreamcommons.server.session import DreamSession, Member

log = logging.getLogger(__name__)

_Outgoing = tuple[str, bytes, dict[str, str] | None]


class SessionOwner:
    """Serves ``session`` to the cluster's gateways until ``stop()``."""

    def __init__(self, nc: Client, session: DreamSession, devices: OwnedDevices) -> None:
        self.nc = nc
        self.session = session
        self.devices = devices
        self._links: dict[str, tuple[Member, RemoteLink]] = {}
        self._snapshots_wanted: set[Encoding] = set()
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self._subscription: Any = None
        self._samples: Any = None
        self._answering: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.session.publish = self._publish_delta
        self._publisher = asyncio.get_running_loop().create_task(
            self._publish_queued(), name=f"publish-{self.session.id}"
        )
        subject = requests_subject(self.session.id)
        self._subscription = await self.nc.subscribe(subject, cb=self._on_request)
        self._samples = await self.nc.subscribe(
            samples_subject(self.session.id), cb=self._on_samples
        )
        await self.nc.flush()

    async def stop(self) -> None:
        self.session.publish = None
        for subscription in (self._subscription, self._samples):
            if subscription is not None:
                with contextlib.suppress(Exception):  # NATS away: it dies with the connection
                    await subscription.unsubscribe()
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher

    # --- deltas --------------------------------------------------------------------------

    def _publish_delta(
        self, seq: int, encoding: Encoding, frame: Frame, snapshot: Callable[[], Frame]
    ) -> None:
        subject = deltas_subject(self.session.id, encoding)
        epoch = self.session.epoch
        if encoding in self._snapshots_wanted:
            self._snapshots_wanted.discard(encoding)
            headers = {SEQ_HEADER: str(seq), KIND_HEADER: SNAPSHOT, EPOCH_HEADER: epoch}
            self._outbox.put_nowait((subject, frame_bytes(snapshot()), headers))
        headers = {SEQ_HEADER: str(seq), KIND_HEADER: DELTA, EPOCH_HEADER: epoch}
        self._outbox.put_nowait((subject, frame_bytes(frame), headers))

    def _ask_to_close(self, link: RemoteLink, code: int, reason: str) -> None:
        payload = pack({"link": link.link, "code": code, "reason": reason})
        self._outbox.put_nowait((gateway_subject(link.gateway), payload, None))
        self._links.pop(link.link, None)

    async def _publish_queued(self) -> None:
        while True:
            subject, payload, headers = await self._outbox.get()
            try:
                await self.nc.publish(subject, payload, headers=headers)
            except Exception as error:  # NATS away and its buffer full: that delta is missed
                log.warning("session %s: not published on %s: %s", self.session.id, subject, error)

    # --- devices -------------------------------------------------------------------------

    async def _on_samples(self, msg: Msg) -> None:
        """A batch or a count of devices online, from an ingest process."""
        try:
            self.devices.heard(self.session, unpack(msg.data))
        except (KeyError, ValueError, TypeError, ProtocolError) as error:
            log.warning("session %s: unreadable device message: %s", self.session.id, error)

    # --- requests ------------------------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        """Each request answered by a task of its own, so that one waiting for the log does
        not hold up the next; started in order, each applies its event before it awaits."""
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, msg: Msg) -> None:
        try:
            request = unpack(msg.data)
            op = request.get("op")
            if op == "join":
                reply = pack({"ok": await self._join(request)})
            elif op == "message":
                reply = pack({"ok": await self._message(request)})
            elif op == "snapshot":
                self._snapshots_wanted.add(Encoding(request["encoding"]))
                return
            elif op == "leave":
                self._leave(str(request["link"]))
                return
            else:
                raise NotAllowed(ErrorCode.INVALID_FIELD, f"no such request: {op!r}")
        except ProtocolError as error:
            reply = refusal(error)
        except (KeyError, ValueError, TypeError) as error:
            log.warning("session %s: unreadable request: %s", self.session.id, error)
            reply = refusal(NotAllowed(ErrorCode.INTERNAL, "the gateway's request was unreadable"))
        if msg.reply:
            with contextlib.suppress(Exception):  # the gateway gave up waiting: it said so
                await msg.respond(reply)

    async def _join(self, request: dict[str, Any]) -> dict[str, object]:
        join = decode_client(request["join"], Encoding.MSGPACK)
        if not isinstance(join, Join):
            raise NotAllowed(ErrorCode.INVALID_FIELD, "a join request without a join")
        encoding = Encoding(request["encoding"])
        link = RemoteLink(str(request["gateway"]), str(request["link"]), self._ask_to_close)
        admitted = await self.session.join(join, link, encoding, join_code=request["join_code"])
        # nothing awaited since the join: the welcome and the replay end at this seq
        seq = self.session.engine.state.seq
        self._links[link.link] = (admitted.member, link)
        member = admitted.member
        frames = [self.session.welcome_frame(admitted.welcome, encoding), *admitted.replay]
        return {
            "pid": member.pid,
            "name": member.name,
            "role": member.role,
            "seq": seq,
            "resume": member.resume_token,
            "epoch": self.session.epoch,
            "frames": [frame_bytes(frame) for frame in frames],
        }

    async def _message(self, request: dict[str, Any]) -> bytes:
        held = self._links.get(str(request["link"]))
        if held is None:
            # the session changed hands: the gateway joins its connections to this owner again,
            # so the client did nothing wrong and may simply try again
            raise NotAllowed(
                ErrorCode.SESSION_MOVING, "the session changed hands: try again in a moment"
            )
        member, _ = held
        message = decode_client(request["message"], Encoding.MSGPACK)
        reply: BaseModel
        match message:
            case Contribute() | Whisper():
                reply = self.session.contribute(member, message)
            case Share():
                reply = self.session.share(member, message)
            case HostAction():
                reply = self.session.host_action(member, message)
            case People():
                return frame_bytes(encode(self.session.people(message), member.encoding))
            case Pair():
                return await self.devices.pair(self.session, member, message)
            case Command():
                return await self.devices.command(self.session, member, message)
            case _:
                raise NotAllowed(ErrorCode.INVALID_FIELD, f"not for the owner: {message.type}")
        await self.session.durable()  # acknowledged only once it is in the cluster's log
        return frame_bytes(encode(reply, member.encoding))

    def drop_silent(self, heard: dict[str, float], now: float, silent_s: float) -> None:
        """The connections of gateways not heard for ``silent_s`` are gone (a gateway that
        died says no leave): their members are away, as after any disconnection."""
        for link_id, (_, link) in list(self._links.items()):
            if now - heard.get(link.gateway, link.since) > silent_s:
                log.warning("session %s: gateway %s is silent", self.session.id, link.gateway)
                self._leave(link_id)

    def _leave(self, link_id: str) -> None:
        held = self._links.pop(link_id, None)
        if held is not None:
            member, link = held
            self.session.disconnect(member, link)
