"""A recorded session served read-only on a port of its own: the watch page (and any client)
joins it as on a live server and sees the dream played back; contributions are refused."""

from __future__ import annotations

import logging
from http import HTTPStatus

from pydantic import BaseModel
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dreamcommons.contracts.errors import ErrorCode, NotAllowed, ProtocolError
from dreamcommons.contracts.protocol import (
    Delta,
    DreamscapeState,
    Encoding,
    Join,
    Ping,
    Pong,
    Resync,
    Snapshot,
    Welcome,
    decode_client,
    encode,
    error_frame,
)
from dreamcommons.server.session_listing import ListedSession, SessionListing
from dreamcommons.server.versions import refuse_other_versions
from dreamcommons.server.web import json_page, not_found, web_response

log = logging.getLogger(__name__)


class ReplayServer:
    """Serves ``show()``'s states of one session to watchers until ``close()``."""

    def __init__(
        self,
        initial: DreamscapeState,
        tick_hz: float,
        host: str,
        port: int,
        *,
        title: str | None = None,
    ) -> None:
        self.session_id = initial.session
        self.title = title or initial.session
        self.tick_hz = tick_hz
        self.host = host
        self.requested_port = port
        self.state = initial
        self._listeners: dict[Encoding, set[ServerConnection]] = {e: set() for e in Encoding}
        self._server: Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            subprotocols=[Encoding.MSGPACK.value, Encoding.JSON.value],  # type: ignore[list-item]
            process_request=self._http,
            max_size=65_536,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    async def show(self, state: DreamscapeState, delta: Delta) -> None:
        """The replay reached ``state``: every watcher gets the delta that led there."""
        self.state = state
        for encoding, connections in self._listeners.items():
            if connections:
                broadcast(connections, encode(delta, encoding))

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if "upgrade" in request.headers.get("Connection", "").lower():
            return refuse_other_versions(connection, request)
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return connection.respond(HTTPStatus.OK, "replay\n")
        if path == "/sessions.json":
            return json_page(connection, self.listing())
        return web_response(connection, path) or not_found(connection)

    def listing(self) -> SessionListing:
        """The one session replayed, marked as a replay so that the page says so."""
        replayed = ListedSession(
            id=self.session_id, venue=self.state.venue, title=self.title, people=0, open=True
        )
        return SessionListing(replay=True, sessions=[replayed])

    async def _handle(self, connection: ServerConnection) -> None:
        encoding = Encoding(str(connection.subprotocol))  # one of them: refuse_other_versions
        try:
            async for frame in connection:
                reply: BaseModel | None
                try:
                    reply = self._answer(decode_client(frame, encoding), connection, encoding)
                except ProtocolError as error:
                    reply = error_frame(error)
                if reply is not None:
                    await connection.send(encode(reply, encoding))
        except ConnectionClosed:
            pass
        finally:
            self._listeners[encoding].discard(connection)

    def _answer(
        self, message: object, connection: ServerConnection, encoding: Encoding
    ) -> Welcome | Snapshot | Pong | None:
        match message:
            case Join(session=session) if session == self.session_id:
                self._listeners[encoding].add(connection)
                return Welcome(  # whisper_max 0: a replay is read-only, it takes no whispers
                    participant="replay",
                    resume="",
                    tick_hz=self.tick_hz,
                    whisper_max=0,
                    state=self.state,
                )
            case Join():
                raise NotAllowed(ErrorCode.INVALID_FIELD, f"this replays {self.session_id} only")
            case Resync():
                return Snapshot(state=self.state)
            case Ping(n=n):
                return Pong(n=n)
        ref = getattr(message, "cid", None)
        raise NotAllowed(ErrorCode.FORBIDDEN, "this is a replay: read-only", ref=ref)
