"""The WebSocket gateway: accepts connections, speaks the protocol, routes to sessions.

Plain HTTP on the same port answers ``/healthz``. Each connection picks its encoding by
subprotocol; bad frames get an error frame and the connection survives, until too many
mistakes in a short window close it with ``CloseCode.TOO_MANY_ERRORS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Coroutine
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dreamcommons.contracts.errors import (
    SERVER_FAULTS,
    CloseCode,
    ErrorCode,
    FrameTooLarge,
    LimitExceeded,
    NotAllowed,
    ProtocolError,
    UnsupportedVersion,
)
from dreamcommons.contracts.protocol import (
    PROTOCOL_VERSION,
    AnyClientMessage,
    Command,
    Contribute,
    Encoding,
    HostAction,
    Invite,
    Join,
    Pair,
    People,
    Ping,
    Playback,
    Pong,
    Resync,
    Share,
    Whisper,
    decode_client,
    encode,
    error_frame,
)
from dreamcommons.contracts.venues import VenuePreset, load_venue
from dreamcommons.server.auth import Gatekeeper
from dreamcommons.server.cancelling import cancel_all
from dreamcommons.server.cluster.errors import NatsUnavailable
from dreamcommons.server.cluster.node import ClusterNode
from dreamcommons.server.devices.hub import DeviceHub
from dreamcommons.server.durability import Durability
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.fanout import bound_kernel_buffers, write_once
from dreamcommons.server.guessing import WRONG_CREDENTIAL, CredentialGuard, GuessPolicy
from dreamcommons.server.ha_sessions import SessionsInHomeAssistant
from dreamcommons.server.join_log import JoinLog
from dreamcommons.server.join_url import join_through
from dreamcommons.server.journal import Journal
from dreamcommons.server.limits import Limits
from dreamcommons.server.local_session import LocalSession
from dreamcommons.server.metrics import CONTENT_TYPE, ServerMetrics
from dreamcommons.server.presence import ServerPresence
from dreamcommons.server.recovery import (
    absence_policy,
    fanout,
    recover_sessions,
    session_journal,
)
from dreamcommons.server.session import DreamSession, Member
from dreamcommons.server.session_listing import cluster_listing, session_listing
from dreamcommons.server.session_port import Reply, SessionPort
from dreamcommons.server.settings import ServerSettings
from dreamcommons.server.versions import refuse_other_versions
from dreamcommons.server.web import json_page, not_found, web_response

log = logging.getLogger(__name__)


class DreamServer:
    """Hosts dream sessions on one port until ``close()``: each session of its own venue,
    ``venue`` for those the settings do not name (``session_venues``)."""

    def __init__(self, settings: ServerSettings, venue: VenuePreset) -> None:
        self.settings = settings
        self.venue = venue
        self.venues = {
            session: venue if name == venue.name else load_venue(name)
            for session, name in settings.session_venues.items()
        }
        self.sessions: dict[str, DreamSession] = {}
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.home_assistant = (
            SessionsInHomeAssistant(
                settings.server_name,
                self.sessions.values,
                forget_on_stop=settings.journal is None,
            )
            if settings.ha_discovery
            else None
        )
        self.devices = DeviceHub(
            settings.broker if settings.cluster is None else None,  # a cluster's: its ingests
            self.sessions.get,
            command_wait_s=settings.device_command_wait_s,
            presence=ServerPresence(settings.server_name, self.home_assistant),
        )
        self.gatekeeper = Gatekeeper(
            settings.secret, operator_key=settings.host_key, open_sessions=settings.open_sessions
        )
        self.limits = Limits.from_settings(settings)
        self.guard = CredentialGuard(GuessPolicy.from_settings(settings))
        self.joins = JoinLog()
        self.journal = None if settings.journal is None else Journal(settings.journal)
        self.metrics = ServerMetrics(self.sessions.values, self.devices, self.limits, self.journal)
        self.cluster = None if settings.cluster is None else ClusterNode(self, settings)
        self._ticking: dict[str, asyncio.Task[None]] = {}

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        sockname = next(iter(self._server.sockets)).getsockname()
        return int(sockname[1])

    async def start(self) -> None:
        if self.cluster is not None:
            await self.cluster.start()
        if self.journal is not None:
            await self.journal.open()
            recovered = await recover_sessions(
                self.journal, self.settings, self.devices.pace, self.devices.registry.remember_owner
            )
            for session in recovered:
                named = self.venues.get(session.id)
                if named is not None and named.name != session.venue.name:
                    log.warning(
                        "session %s keeps its journaled venue %s, not %s",
                        session.id,
                        session.venue.name,
                        named.name,
                    )
                self._run(session)
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            subprotocols=[Encoding.MSGPACK.value, Encoding.JSON.value],  # type: ignore[list-item]
            process_request=self._http,
            # off unless asked for: deflating each tick's frame for each connection costs more
            # CPU than the rest of the fan-out, and the frames are lean already
            compression="deflate" if self.settings.compression else None,
            max_size=self.settings.max_frame_bytes * 4,
            ping_interval=20,
            ping_timeout=20,
        )
        bound_kernel_buffers(self._server, self.settings.socket_send_bytes)
        log.info("dreamcommons listening on ws://%s:%d/", self.settings.host, self.port)
        if self.devices.gateway is not None:
            self._spawn(self.devices.gateway.run(), "device-gateway")
            if self.home_assistant is not None:
                self._spawn(self.home_assistant.run(), "home-assistant")

    async def close(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()  # its sessions' leases released first: others own them
        await cancel_all(self._tasks)
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        if self.journal is not None:
            await self.journal.close()

    async def __aenter__(self) -> DreamServer:
        try:
            await self.start()
        except BaseException:
            await self.close()  # a port in use: the journal opened first is closed again
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def session(
        self,
        session_id: str,
        *,
        durability: Durability | None = None,
        engine: DreamEngine | None = None,
    ) -> DreamSession:
        """The session of that id, opened on first use with its venue, journaled if the server
        has a journal. A cluster's owner gives its log (``durability``) and the ``engine`` it
        rebuilt from it."""
        session = self.sessions.get(session_id)
        if session is None:
            venue = self.venue_of(session_id)
            if durability is None and self.journal is not None:
                durability = session_journal(self.journal, session_id, venue, self.settings)
            session = DreamSession(
                session_id,
                venue,
                on_pace=self.devices.pace,
                engine=engine,
                journal=durability,
                fanout=fanout(self.settings),
                whisper_max=self.settings.max_whisper_chars,
                absences=absence_policy(self.settings),
                recent_deltas_s=self.settings.recent_deltas_s,
            )
            self._run(session)
            log.info("session %s opened (venue %s)", session_id, venue.name)
        return session

    async def open_session(self, session_id: str) -> SessionPort:
        """What a connection speaks to: the session here, or in a cluster its owner."""
        if self.cluster is not None:
            return await self.cluster.session(session_id)
        return LocalSession(self.session(session_id), self.devices)

    async def close_session(self, session_id: str) -> None:
        """Stop ticking the session and forget it (its owner is another process now)."""
        self.sessions.pop(session_id, None)
        ticking = self._ticking.pop(session_id, None)
        if ticking is not None:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking

    def venue_of(self, session_id: str) -> VenuePreset:
        """The venue a session has, or would open with: a session that exists (recovered from
        the journal, too) keeps its own; otherwise the one named for it, else the default."""
        session = self.sessions.get(session_id)
        if session is not None:
            return session.venue
        return self.venues.get(session_id, self.venue)

    def _run(self, session: DreamSession) -> None:
        """Keep ``session`` (new or recovered) and tick it, timing each tick for /metrics."""
        self.sessions[session.id] = session
        session.tick_observer = self.metrics.tick_seconds.observe
        self._ticking[session.id] = self._spawn(session.run(), f"tick-{session.id}")

    def _spawn(self, work: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_ended)
        return task

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s died", task.get_name(), exc_info=task.exception())

    # --- HTTP ----------------------------------------------------------------------------

    def _http(
        self, connection: ServerConnection, request: Request
    ) -> Response | Coroutine[None, None, Response] | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = {
                "status": "ok",
                "venue": self.venue.name,
                "sessions": len(self.sessions),
                "participants": sum(s.present_count() for s in self.sessions.values()),
            }
            if self.journal is not None:
                body["journal"] = "ok" if self.journal.healthy else "unavailable"
            if self.cluster is not None:
                body["cluster"] = self.cluster.health()
            return _json_response(connection, HTTPStatus.OK, body)
        if path == "/metrics":
            return _response(connection, CONTENT_TYPE, self.metrics.render())
        if "upgrade" not in request.headers.get("Connection", "").lower():
            if path == "/sessions.json" and self.cluster is not None:
                return self._cluster_sessions(connection, self.cluster)
            if path == "/sessions.json":
                listing = session_listing(self.sessions.values(), self.gatekeeper.is_open)
                return json_page(connection, listing)
            return web_response(connection, path) or not_found(connection)
        try:
            self.limits.check_origin(request.headers.get("Origin"), request.headers.get("Host"))
        except LimitExceeded as refused:
            return connection.respond(HTTPStatus.FORBIDDEN, f"{refused.code}: {refused}\n")
        return refuse_other_versions(connection, request)

    async def _cluster_sessions(
        self, connection: ServerConnection, cluster: ClusterNode
    ) -> Response:
        """``/sessions.json`` in a cluster: the sessions its leases name, read from NATS."""
        try:
            owners = await asyncio.wait_for(cluster.sessions(), self.settings.cluster_wait_s)
        except (TimeoutError, NatsUnavailable) as error:
            log.warning("sessions.json: the cluster's leases could not be read: %s", error)
            body = {"error": "the cluster's NATS is not answering; try again"}
            return _json_response(connection, HTTPStatus.SERVICE_UNAVAILABLE, body)
        listing = cluster_listing(
            owners, self.venue_of, cluster.connections_in, self.gatekeeper.is_open
        )
        return json_page(connection, listing)

    # --- WebSocket -----------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        encoding = Encoding(str(connection.subprotocol))  # one of them: refuse_other_versions
        address = str(connection.remote_address[0])
        try:
            self.limits.open_connection(address)
        except LimitExceeded as refused:
            with contextlib.suppress(ConnectionClosed):
                await connection.send(encode(error_frame(refused), encoding))
                await connection.close(CloseCode.TOO_MANY_CONNECTIONS, refused.code.value)
            return
        peer = _ConnectionState(self, connection, encoding, address)
        try:
            await peer.serve()
        except ConnectionClosed:
            pass
        finally:
            peer.detach()
            self.limits.close_connection(address)


class _ConnectionState:
    """One connection: its encoding, its member once joined, and its recent mistakes."""

    def __init__(
        self, server: DreamServer, connection: ServerConnection, encoding: Encoding, address: str
    ):
        self.server = server
        self.connection = connection
        self.encoding = encoding
        self.address = address
        self.session: SessionPort | None = None
        self.member: Member | None = None
        self._joining: SessionPort | None = None  # where a join frame went, until answered
        self._mistakes: deque[float] = deque()
        self._budgets = server.limits.connection_budgets()

    async def serve(self) -> None:
        limit = self.server.settings.max_frame_bytes
        async for frame in self.connection:
            try:
                if len(frame) > limit:
                    raise FrameTooLarge(f"frame of {len(frame)} bytes; the limit is {limit}")
                message = decode_client(frame, self.encoding)
                try:
                    await self._dispatch(message)
                except ProtocolError as error:
                    error.ref = getattr(message, "cid", None) if error.ref is None else error.ref
                    raise
            except ProtocolError as error:
                self._count_refusal(error)
                await self._send(error_frame(error))
                if error.code not in SERVER_FAULTS and self._too_many_mistakes():
                    await self._close(CloseCode.TOO_MANY_ERRORS, "too many bad frames")
                    return

    def _count_refusal(self, error: ProtocolError) -> None:
        """The one place a refused frame is counted (``/metrics``' ``frames_refused``), once,
        against the session it was meant for; a session only raises its refusals (or, for an
        acknowledgement the journal could not make durable, hands them here later)."""
        session = self.session if self.session is not None else self._joining
        self._joining = None
        if session is not None:
            session.stats.refused[error.code.value] += 1

    async def _close(self, code: CloseCode, reason: str) -> None:
        """Close, dropping whatever the peer still sends meanwhile: a flood that filled the
        incoming queue would otherwise hold up the closing handshake until it times out."""
        closing = asyncio.get_running_loop().create_task(
            self.connection.close(code, reason), name="close-connection"
        )
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.connection:
                pass
        await closing

    async def _dispatch(self, message: AnyClientMessage) -> None:
        self._spend(message)
        match message:
            case Join():
                await self._join(message)
            case Contribute() | Whisper():
                session, member = self._joined(message.cid)
                text = message.text if isinstance(message, Whisper) else None
                self.server.limits.check_contribution(
                    session.id, member.pid, time.monotonic(), ref=message.cid, whisper=text
                )
                await session.contribute(member, message, self._reply)
            case Resync():
                session, _ = self._joined()
                if not session.resync_pending(self.connection):
                    self._budgets.spend("resync", time.monotonic())
                    session.resync(self.connection)
            case Share():
                session, member = self._joined()
                await session.share(member, message, self._reply)
            case HostAction():
                session, member = self._joined()
                await session.host_action(member, message, self._reply)
            case Invite():
                session, member = self._joined(message.cid)
                issue = self.server.gatekeeper.invitation
                await self._send(issue(session.id, member.role, message, time.time()))
            case Pair():
                session, member = self._joined()
                with self._credentials(session.id, ref=message.cid):
                    paired = await session.devices(member, message)
                await self.connection.send(paired)
            case Command():
                session, member = self._joined()
                await self.connection.send(await session.devices(member, message))
            case Ping(n=n):
                await self._send(Pong(n=n))
            case People():
                session, member = self._joined(message.cid)
                await self.connection.send(await session.people(member, message))
            case Playback():
                raise NotAllowed(ErrorCode.FORBIDDEN, "playback is a served replay's; this is live")

    def _spend(self, message: AnyClientMessage) -> None:
        """Spend a token of the message type's budget (``limits.BUDGETS``), or refuse it. Not
        here: a join (once per connection), contributions and whispers (the participant's
        budget, in ``check_contribution``) and resyncs (only one that asks for a snapshot)."""
        if not isinstance(message, Join | Contribute | Whisper | Resync):
            self._budgets.spend(message.type, time.monotonic())

    async def _join(self, request: Join) -> None:
        if request.v != PROTOCOL_VERSION:
            raise UnsupportedVersion(
                f"protocol version {request.v} is not supported; "
                f"this server speaks {PROTOCOL_VERSION}"
            )
        if self.member is not None:
            raise NotAllowed(ErrorCode.ALREADY_JOINED, "this connection has already joined")
        if self.connection.request is not None:
            request = join_through(request, self.connection.request.path)
        with self._credentials(request.session):
            self.server.gatekeeper.admit(request, time.time())
            unknown = self.server.cluster is None and request.session not in self.server.sessions
            if request.resume is not None and unknown:
                raise NotAllowed(
                    ErrorCode.BAD_RESUME_TOKEN, "unknown resume token for this session"
                )
            if request.resume is None:
                self.server.limits.check_new_member(self.address, time.monotonic())
            session = await self.server.open_session(request.session)
            self._joining = session
            code = self.server.gatekeeper.join_code(session.id) if request.role == "host" else None
            admitted = await session.join(request, self.connection, self.encoding, join_code=code)
        self.session, self.member, self._joining = session, admitted.member, None
        self.server.joins.joined(session.id, request.name, self.member.pid, request.role)
        # written at once, without awaiting (``send`` would await a drain, and a tick's live
        # delta could come between the welcome and the deltas it resumes from)
        for frame in admitted.frames:
            write_once([self.connection], frame)

    def _credentials(self, session: str, ref: int | None = None) -> _CredentialCheck:
        """Around checking a credential for ``session``: ``with self._credentials(...)``."""
        return _CredentialCheck(self.server, self.address, session, ref)

    @property
    def _reply(self) -> Reply:
        """Where acks go once durable; a refusal that comes later is counted like any other."""
        return Reply(self.connection, self.encoding, self._count_refusal)

    def _joined(self, ref: int | None = None) -> tuple[SessionPort, Member]:
        if self.session is None or self.member is None:
            raise NotAllowed(ErrorCode.NOT_JOINED, "join a session first", ref=ref)
        return self.session, self.member

    async def _send(self, message: object) -> None:
        await self.connection.send(encode(message, self.encoding))  # type: ignore[arg-type]

    def _too_many_mistakes(self) -> bool:
        now = time.monotonic()
        window = self.server.settings.error_window_s
        self._mistakes.append(now)
        while self._mistakes and self._mistakes[0] < now - window:
            self._mistakes.popleft()
        return len(self._mistakes) >= self.server.settings.max_errors

    def detach(self) -> None:
        if self.session is not None and self.member is not None:
            self.session.disconnect(self.member, self.connection)


class _CredentialCheck:
    """Around checking a credential (the guard's one rule for every kind): refused before it
    is looked at while the address is locked out; a wrong one counted, a right one trusted.
    A class, not a generator: every join checks one."""

    __slots__ = ("address", "ref", "server", "session")

    def __init__(self, server: DreamServer, address: str, session: str, ref: int | None) -> None:
        self.server, self.address, self.session, self.ref = server, address, session, ref

    def __enter__(self) -> None:
        try:
            self.server.guard.check(self.address, self.session, time.monotonic(), ref=self.ref)
        except LimitExceeded as locked:
            self.server.limits.refused[locked.code.value] += 1  # counted with every limit
            raise

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> None:
        guard = self.server.guard
        if error is None:
            guard.succeeded(self.address, self.session, time.monotonic())
        elif isinstance(error, NotAllowed) and error.code in WRONG_CREDENTIAL:
            guard.failed(self.address, self.session, time.monotonic())


def _json_response(connection: ServerConnection, status: HTTPStatus, body: object) -> Response:
    response = connection.respond(status, json.dumps(body) + "\n")
    return _with_type(response, "application/json")


def _response(connection: ServerConnection, content_type: str, body: bytes) -> Response:
    return _with_type(connection.respond(HTTPStatus.OK, ""), content_type, body)


def _with_type(response: Response, content_type: str, body: bytes | None = None) -> Response:
    headers = Headers(response.headers)
    for name in ("Content-Type", "Content-Length"):
        del headers[name]
    payload = (response.body or b"") if body is None else body
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(payload))
    return Response(response.status_code, response.reason_phrase, headers, payload)
