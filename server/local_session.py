"""A ``SessionPort`` onto a session of this process: the single process's one kind."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection

from dreamcommons.contracts.protocol import (
    Ack,
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
)
from dreamcommons.server.devices.hub import DeviceHub
from dreamcommons.server.recent_deltas import Frame
from dreamcommons.server.session import DreamSession, Member, SessionStats
from dreamcommons.server.session_port import Joined, Reply


@dataclass(frozen=True, slots=True)
class LocalSession:
    session: DreamSession
    hub: DeviceHub

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def stats(self) -> SessionStats:
        return self.session.stats

    @property
    def local(self) -> DreamSession:
        return self.session

    async def join(
        self,
        request: Join,
        connection: ServerConnection,
        encoding: Encoding,
        *,
        join_code: str | None = None,
    ) -> Joined:
        admitted = await self.session.join(request, connection, encoding, join_code=join_code)
        welcome = self.session.welcome_frame(admitted.welcome, encoding)
        return Joined(admitted.member, (welcome, *admitted.replay))

    async def contribute(self, member: Member, message: Contribute | Whisper, to: Reply) -> None:
        await self._acknowledge(to, self.session.contribute(member, message))

    async def share(self, member: Member, message: Share, to: Reply) -> None:
        await self._acknowledge(to, self.session.share(member, message))

    async def host_action(self, member: Member, message: HostAction, to: Reply) -> None:
        await self._acknowledge(to, self.session.host_action(member, message))

    async def devices(self, member: Member, message: Pair | Command) -> Frame:
        if isinstance(message, Pair):
            return encode(await self.hub.pair(self.session, member, message), member.encoding)
        return encode(await self.hub.command(self.session, member, message), member.encoding)

    async def people(self, member: Member, message: People) -> Frame:
        return encode(self.session.people(message), member.encoding)

    def resync_pending(self, connection: ServerConnection) -> bool:
        return self.session.resync_pending(connection)

    def resync(self, connection: ServerConnection) -> None:
        self.session.resync(connection)

    def disconnect(self, member: Member, connection: ServerConnection) -> None:
        self.session.disconnect(member, connection)

    def _acknowledge(self, to: Reply, ack: Ack) -> Coroutine[Any, Any, None]:
        """The session's acknowledgement, to be awaited by the caller: no coroutine of its own
        in between (one for every contribution)."""
        return self.session.acknowledge(to.connection, to.encoding, ack, refused=to.refused)
