"""A session owned by another process, as a gateway's connections see it (``SessionPort``).

Every request goes to the owner on ``dreamcommons.owner.SESSION.requests`` and waits for its
answer at most ``wait_s``: the welcome and the replay, the ack or the page, as frames in the
connection's encoding, passed on as they are; a refusal raised again with the owner's code. No
owner answering, in time or at all, is ``session_moving``: nothing was applied or acknowledged.
The deltas come by the session's ``DeltaRelay``, never through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from dreamcommons.contracts.errors import ProtocolError
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
    encode,
    error_frame,
)
from dreamcommons.server.cluster.errors import SessionMoving
from dreamcommons.server.cluster.names import requests_subject
from dreamcommons.server.cluster.relay import DeltaRelay
from dreamcommons.server.cluster.wire import answer, as_frame, frame_bytes, pack, unpack
from dreamcommons.server.recent_deltas import Frame
from dreamcommons.server.session import DreamSession, Member, SessionStats
from dreamcommons.server.session_port import Joined, Reply

OPENING_RETRY_S = 0.05
MAX_IN_FLIGHT = 32
"""A connection's contributions, shares and host actions sent to the owner and not yet
answered; one more waits for the oldest answer."""

log = logging.getLogger(__name__)

Post = Callable[[str, bytes], None]
"""Publish without waiting for an answer (a leave, a snapshot wanted)."""


class RemoteSession:
    """Session ``session_id`` as seen from gateway ``gateway_id``."""

    def __init__(
        self,
        nc: Client,
        session_id: str,
        gateway_id: str,
        relay: DeltaRelay,
        *,
        new_link: Callable[[ServerConnection], str],
        drop_link: Callable[[str], None],
        post: Post,
        wait_s: float,
        moving: Callable[[], None],
        device_wait_s: float = 0.0,
    ) -> None:
        self.nc = nc
        self._id = session_id
        self.gateway_id = gateway_id
        self.relay = relay
        self.wait_s = wait_s
        self.device_wait_s = device_wait_s  # what the owner may wait for a device's ack
        self._stats = SessionStats()
        self._new_link = new_link
        self._drop_link = drop_link
        self._post = post
        self._moving = moving
        self._subject = requests_subject(session_id)
        self._links: dict[Member, str] = {}
        self._in_flight: dict[Member, asyncio.Semaphore] = {}
        self._answering: set[asyncio.Task[None]] = set()
        self._comebacks: dict[
            Member, tuple[ServerConnection, Join]
        ] = {}  # to join a new owner  # each member's connection here, as the owner knows it

    @property
    def id(self) -> str:
        return self._id

    @property
    def stats(self) -> SessionStats:
        return self._stats

    @property
    def local(self) -> DreamSession | None:
        return None

    async def join(
        self,
        request: Join,
        connection: ServerConnection,
        encoding: Encoding,
        *,
        join_code: str | None = None,
    ) -> Joined:
        link, admitted = await self._join(request, connection, encoding, join_code)
        member = Member(admitted["pid"], admitted["name"], admitted["role"], "")
        member.encoding = encoding
        self._links[member] = link
        comeback = Join(
            session=self._id, name=request.name, role=request.role, resume=admitted["resume"]
        )
        self._comebacks[member] = (connection, comeback)
        # the frames the owner published after the welcome and before this relay listened
        self.relay.welcomed(str(admitted["epoch"]))
        forwarded = self.relay.listen(connection, encoding, int(admitted["seq"]))
        frames = [as_frame(frame, encoding) for frame in admitted["frames"]]
        return Joined(member, (*frames, *forwarded))

    async def _join(
        self, request: Join, connection: ServerConnection, encoding: Encoding, code: str | None
    ) -> tuple[str, dict[str, Any]]:
        link = self._new_link(connection)
        asked = {
            "op": "join",
            "link": link,
            "gateway": self.gateway_id,
            "encoding": encoding.value,
            "join": frame_bytes(encode(request, Encoding.MSGPACK)),
            "join_code": code,
        }
        try:
            admitted: dict[str, Any] = answer(await self._ask(asked))
        except BaseException:
            self._drop_link(link)
            raise
        return link, admitted

    async def relink(self) -> None:
        """A new owner took the session over: join it again, by resume token, for every
        connection here, so that what they send is theirs at the new owner. Its welcome is
        not sent on: the relay gives them the new owner's snapshot."""
        for member, (connection, comeback) in list(self._comebacks.items()):
            try:
                link, _ = await self._join(comeback, connection, member.encoding, None)
            except ProtocolError as error:
                log.warning("session %s: %s not back at its owner: %s", self._id, member.pid, error)
                continue
            if self._comebacks.get(member) is None:  # gone meanwhile
                self._post(self._subject, pack({"op": "leave", "link": link}))
                self._drop_link(link)
                continue
            old = self._links.get(member)
            if old is not None:
                self._drop_link(old)
            self._links[member] = link

    async def contribute(self, member: Member, message: Contribute | Whisper, to: Reply) -> None:
        await self._forward(member, message, message.cid, to)

    async def share(self, member: Member, message: Share, to: Reply) -> None:
        await self._forward(member, message, message.cid, to)

    async def host_action(self, member: Member, message: HostAction, to: Reply) -> None:
        await self._forward(member, message, message.cid, to)

    async def people(self, member: Member, message: People) -> Frame:
        return as_frame(await self._message(member, message, message.cid), member.encoding)

    async def devices(self, member: Member, message: Pair | Command) -> Frame:
        """Through the owner, which asks an ingest process: it waits for the device's ack."""
        wait_s = self.wait_s + self.device_wait_s
        frame = await self._message(member, message, message.cid, wait_s=wait_s)
        return as_frame(frame, member.encoding)

    def resync_pending(self, connection: ServerConnection) -> bool:
        return self.relay.resync_pending(connection)

    def resync(self, connection: ServerConnection) -> None:
        self.relay.resync(connection)

    def disconnect(self, member: Member, connection: ServerConnection) -> None:
        self.relay.forget(connection)
        self._comebacks.pop(member, None)
        self._in_flight.pop(member, None)
        link = self._links.pop(member, None)
        if link is not None:
            self._drop_link(link)
            self._post(self._subject, pack({"op": "leave", "link": link}))

    async def _forward(
        self,
        member: Member,
        message: Contribute | Whisper | Share | HostAction,
        cid: int,
        to: Reply,
    ) -> None:
        """Send it to the owner and return: the connection reads its next frame meanwhile, as
        in one process, where an ack waits for the journal and the next frame does not. The
        answer (the ack, or a refusal: counted by ``to.refused``) is written when it comes.
        Requests leave in the order they are forwarded, and the owner applies them so; past
        ``MAX_IN_FLIGHT`` unanswered ones the connection waits for the oldest."""
        gate = self._in_flight.setdefault(member, asyncio.Semaphore(MAX_IN_FLIGHT))
        await gate.acquire()
        asked = self._asked(member, message)
        task = asyncio.get_running_loop().create_task(self._answer(asked, cid, to, gate))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(
        self, asked: dict[str, Any], cid: int, to: Reply, gate: asyncio.Semaphore
    ) -> None:
        try:
            reply = as_frame(answer(await self._ask(asked), ref=cid), to.encoding)
        except ProtocolError as error:
            error.ref = cid if error.ref is None else error.ref
            to.refused(error)
            reply = encode(error_frame(error), to.encoding)
        finally:
            gate.release()
        with contextlib.suppress(ConnectionClosed):
            await to.connection.send(reply)

    async def _message(
        self,
        member: Member,
        message: People | Pair | Command,
        cid: int,
        *,
        wait_s: float | None = None,
    ) -> bytes:
        frame: bytes = answer(await self._ask(self._asked(member, message), wait_s), ref=cid)
        return frame

    def _asked(self, member: Member, message: BaseModel) -> dict[str, Any]:
        return {
            "op": "message",
            "link": self._links[member],
            "message": frame_bytes(encode(message, Encoding.MSGPACK)),
        }

    async def _ask(self, payload: dict[str, Any], wait_s: float | None = None) -> dict[str, Any]:
        """The owner's answer within ``wait_s`` (the gateway's, unless given). No one listening
        yet is an owner that claimed the session and is still opening it (rebuilding it from
        the log): asked again until it listens, within the same ``wait_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.wait_s if wait_s is None else wait_s)
        try:
            while True:
                try:
                    timeout = max(0.001, deadline - loop.time())
                    reply = await self.nc.request(self._subject, pack(payload), timeout=timeout)
                    break
                except NoRespondersError:
                    if loop.time() + OPENING_RETRY_S >= deadline:
                        raise
                    await asyncio.sleep(OPENING_RETRY_S)
        except (TimeoutError, NatsError) as error:
            self._moving()
            raise SessionMoving(
                f"session {self._id} has no owner answering ({error}); try again"
            ) from None
        return unpack(reply.data)
