"""What a connection asks of its session, wherever the session lives.

A connection (``gateway._ConnectionState``) speaks to a ``SessionPort``: the session itself in
one process (``LocalSession``), or its owner elsewhere in a cluster
(``cluster.remote_session.RemoteSession``). Answers are frames in the connection's encoding,
or a ``ProtocolError`` raised with the session's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.server import ServerConnection

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
)
from dreamcommons.server.recent_deltas import Frame
from dreamcommons.server.session import DreamSession, Member, SessionStats


@dataclass(frozen=True, slots=True)
class Joined:
    """A join admitted: the member, and the frames to write at once (welcome, then replay)."""

    member: Member
    frames: tuple[Frame, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """Where an acknowledgement goes, and who counts one that turns into a refusal later."""

    connection: ServerConnection
    encoding: Encoding
    refused: Callable[[ProtocolError], None]


class SessionPort(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def stats(self) -> SessionStats: ...

    @property
    def local(self) -> DreamSession | None:
        """The session itself when it lives in this process (devices need it)."""

    async def join(
        self,
        request: Join,
        connection: ServerConnection,
        encoding: Encoding,
        *,
        join_code: str | None = None,
    ) -> Joined: ...

    async def contribute(self, member: Member, message: Contribute | Whisper, to: Reply) -> None:
        """Queue it and send the ack (once durable) to ``to``; a refusal is raised."""

    async def share(self, member: Member, message: Share, to: Reply) -> None: ...

    async def host_action(self, member: Member, message: HostAction, to: Reply) -> None: ...

    async def people(self, member: Member, message: People) -> Frame: ...

    async def devices(self, member: Member, message: Pair | Command) -> Frame:
        """The ``paired`` or ``command_result`` frame; a refusal is raised (``no_devices``
        where no device broker or ingest process serves the session)."""

    def resync_pending(self, connection: ServerConnection) -> bool: ...

    def resync(self, connection: ServerConnection) -> None: ...

    def disconnect(self, member: Member, connection: ServerConnection) -> None: ...
