"""A recorded session served read-only on a port of its own: the watch page (and any client)
joins it as on a live server and sees the dream played back; contributions are refused.

Each connection has its own playback (``ReplayViewer``): it starts at the beginning of the
night at the server's speed, and a ``playback`` message moves it anywhere in the night and
changes its pace (0: paused) without touching anyone else's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

from pydantic import BaseModel
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode as WsCloseCode
from websockets.http11 import Request, Response

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded, NotAllowed, ProtocolError
from dreamcommons.contracts.protocol import (
    Delta,
    DreamscapeState,
    Encoding,
    Join,
    Ping,
    Playback,
    Pong,
    Resync,
    Snapshot,
    Welcome,
    decode_client,
    encode,
    error_frame,
)
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.journal.keyframes import IndexedNight
from dreamcommons.server.replay_viewer import ReplayViewer
from dreamcommons.server.session_listing import ListedSession, SessionListing
from dreamcommons.server.token_bucket import TokenBucket
from dreamcommons.server.versions import refuse_other_versions
from dreamcommons.server.web import json_page, not_found, web_response

log = logging.getLogger(__name__)

# A seek replays up to a keyframe's spacing on the one worker every viewer reads with: one
# connection may move its playback this often (after a burst), not flood the others out.
PLAYBACKS_PER_S = 10.0
PLAYBACK_BURST = 20
# Frames read ahead of the one being answered; past that, reading waits (TCP backpressure).
INBOX_FRAMES = 64
# The keyframe pass holds that worker for this many ticks at a time (about 0.1 s).
INDEX_TICKS_AT_ONCE = 200


class ReplayServer:
    """Serves one journaled session to watchers, each at their own place, until ``close()``.

    ``start()`` listens at once and reads the night's keyframes meanwhile; ``speed`` is where
    each new connection's pace starts (``math.inf``: as fast as it takes the deltas)."""

    def __init__(
        self,
        journal_path: Path,
        session_id: str,
        host: str,
        port: int,
        *,
        venue: VenuePreset | None = None,
        speed: float = 1.0,
        title: str | None = None,
    ) -> None:
        if not speed > 0.0:
            raise ValueError("speed must be positive")
        self.journal_path = journal_path
        self.session_id = session_id
        self.venue = venue
        self.speed = speed
        self.title = title or session_id
        self.host = host
        self.requested_port = port
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay")
        self._night: IndexedNight | None = None
        self._indexing: asyncio.Task[None] | None = None
        self._server: Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def night(self) -> IndexedNight:
        assert self._night is not None, "server not started"
        return self._night

    @property
    def duration_s(self) -> float:
        """Session time of the night's last tick: how far a viewer can go."""
        return self.night.duration_s

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._night = await loop.run_in_executor(
            self._worker, IndexedNight, self.journal_path, self.session_id, self.venue
        )
        self._indexing = loop.create_task(self._index(self._night), name="replay-keyframes")
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            subprotocols=[Encoding.MSGPACK.value, Encoding.JSON.value],  # type: ignore[list-item]
            process_request=self._http,
            max_size=65_536,
        )

    async def _index(self, night: IndexedNight) -> None:
        """The keyframe pass, a slice at a time on the worker, so that viewers are served
        meanwhile (a seek then starts from the last keyframe kept so far)."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            while await loop.run_in_executor(self._worker, night.build_some, INDEX_TICKS_AT_ONCE):
                pass
        except Exception:  # seeks go on from the keyframes kept, replaying further
            log.exception("%s: the keyframe pass stopped", self.session_id)
            return
        log.info(
            "%s: %d keyframes in %.1f s",
            self.session_id,
            len(night.keyframes),
            time.monotonic() - started,
        )

    async def close(self) -> None:
        if self._indexing is not None:
            self._indexing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexing
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        if self._night is not None:
            await asyncio.get_running_loop().run_in_executor(self._worker, self._night.close)
            self._night = None
        self._worker.shutdown(wait=True)

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
        """The one session replayed, marked as a replay so that the page says so, with the
        night's length and the pace a viewer starts at, for the page's scrubber."""
        night = self.night
        replayed = ListedSession(
            id=self.session_id,
            venue=night.venue.name,
            title=self.title,
            people=0,
            open=True,
            duration_s=night.duration_s,
            speed=0.0 if math.isinf(self.speed) else self.speed,
        )
        return SessionListing(replay=True, sessions=[replayed])

    async def _handle(self, connection: ServerConnection) -> None:
        """Reads frames as they come and answers them in order, one at a time.

        A seek holds its answer back, so the playback budget is spent as a move arrives, in
        ``_admit``, not when its turn comes: a flood is refused however long the seeks take."""
        encoding = Encoding(str(connection.subprotocol))  # one of them: refuse_other_versions

        async def send(delta: Delta) -> None:
            await connection.send(encode(delta, encoding))

        viewer = ReplayViewer(self.night, self._worker, send, self.speed)
        moves = TokenBucket(PLAYBACKS_PER_S, PLAYBACK_BURST)
        inbox: asyncio.Queue[object] = asyncio.Queue(maxsize=INBOX_FRAMES)
        answering = asyncio.create_task(self._answer_in_order(connection, encoding, viewer, inbox))
        try:
            async for frame in connection:
                await inbox.put(self._admit(frame, encoding, moves))
        except ConnectionClosed:
            pass
        finally:
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
            await viewer.stop()

    @staticmethod
    def _admit(frame: str | bytes, encoding: Encoding, moves: TokenBucket) -> object:
        """The message in ``frame``, or the error that answers it."""
        try:
            message = decode_client(frame, encoding)
            if isinstance(message, Playback) and not moves.allow(time.monotonic()):
                raise LimitExceeded(
                    ErrorCode.RATE_LIMITED,
                    f"at most {PLAYBACKS_PER_S:g} playback moves a second;"
                    f" try again in {max(0.1, moves.wait_s()):.1f} s",
                )
        except ProtocolError as error:
            return error
        return message

    async def _answer_in_order(
        self,
        connection: ServerConnection,
        encoding: Encoding,
        viewer: ReplayViewer,
        inbox: asyncio.Queue[object],
    ) -> None:
        try:
            while True:
                message = await inbox.get()
                reply: BaseModel | None
                try:
                    reply = (
                        error_frame(message)
                        if isinstance(message, ProtocolError)
                        else await self._answer(message, viewer)
                    )
                except ProtocolError as error:
                    reply = error_frame(error)
                if reply is not None:
                    await connection.send(encode(reply, encoding))
        except ConnectionClosed:
            pass
        except Exception:  # the server's own fault: said as such, and this viewer ends
            log.exception("replay connection failed")
            closing = asyncio.create_task(
                connection.close(WsCloseCode.INTERNAL_ERROR, "internal error")
            )
            try:
                while True:  # what is still read goes nowhere, so the reader never waits
                    await inbox.get()
            finally:
                await closing  # cancelled once the reader is done, the connection closed by then

    async def _answer(
        self, message: object, viewer: ReplayViewer
    ) -> Welcome | Snapshot | Pong | None:
        joined = viewer.state is not None
        match message:
            case Join() if joined:
                raise NotAllowed(ErrorCode.ALREADY_JOINED, "this connection has already joined")
            case Join(session=session) if session == self.session_id:
                state = await viewer.place(0.0)
                viewer.start()
                return Welcome(  # whisper_max 0: a replay is read-only, it takes no whispers
                    participant="replay",
                    resume="",
                    tick_hz=self.night.venue.tick_hz,
                    whisper_max=0,
                    state=state,
                )
            case Join():
                raise NotAllowed(ErrorCode.INVALID_FIELD, f"this replays {self.session_id} only")
            case Ping(n=n):
                return Pong(n=n)
            case Resync() | Playback() if not joined:
                raise NotAllowed(ErrorCode.NOT_JOINED, "join the replayed session first")
            case Resync():
                return Snapshot(state=viewer.state)
            case Playback(at=at, speed=speed):
                return Snapshot(state=await self._steer(viewer, at, speed))
        ref = getattr(message, "cid", None)
        raise NotAllowed(ErrorCode.FORBIDDEN, "this is a replay: read-only", ref=ref)

    async def _steer(
        self, viewer: ReplayViewer, at: float | None, speed: float | None
    ) -> DreamscapeState:
        """Move ``viewer`` to ``at`` and/or set its ``speed``; the state it is at now."""
        if at is not None and at > self.night.duration_s:
            raise NotAllowed(
                ErrorCode.INVALID_FIELD,
                f"at {at:g} s is past the end of the night ({self.night.duration_s:g} s)",
            )
        await viewer.stop()
        if speed is not None:
            viewer.speed = speed
        state = await viewer.place(at) if at is not None else viewer.state
        assert state is not None
        viewer.start()
        return state
