"""``DreamClient``: join a dream session, contribute, and follow the shared dreamscape.

async with DreamClient("ws://127.0.0.1:8765/commons?code=K7QMXHD2", name="Lyra") as dream:
    await dream.contribute("moon", intensity=0.8)
    async for state in dream.states():
        print(state.mood, [m.name for m in state.motifs])

With ``reconnect=True`` a dropped connection is re-established by itself (jittered backoff),
resuming with the resume token so the participant keeps their identity (joining fresh when the
server no longer knows it, trying again while the server cannot journal the join); requests in
flight when it dropped fail with ``ConnectionLost`` (the caller decides whether to send them
again), and ``states()`` goes on across the gap. A close that coming back would undo
(``link.FINAL_CLOSES``: removed by the host, resumed elsewhere, the session closed) or a refused
join ends the client as without ``reconnect``; ``ended`` then says why. ``wait_for_server=True``
tries the first connection the same way, until the server answers. ``on_link`` hears each
change of the connection (``link.LinkEvent``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Callable
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from dreamcommons.client.errors import ConnectionLost, JoinRefused, Refused, UnexpectedReply
from dreamcommons.client.link import (
    FINAL_CLOSES,
    Forgotten,
    Joined,
    LinkEvent,
    LinkHandler,
    Lost,
    Retrying,
)
from dreamcommons.client.tracker import DeltaOutcome, StateTracker
from dreamcommons.contracts.backoff import backoff_delay
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.lifecycle import StartStop
from dreamcommons.contracts.protocol import (
    MAX_PEOPLE_PAGE,
    MAX_WHISPER_CHARS,
    Ack,
    Command,
    CommandResult,
    Contribute,
    Delta,
    DreamscapeState,
    Encoding,
    ErrorFrame,
    HostAction,
    HostActionName,
    Invitation,
    Invite,
    Join,
    Notice,
    Pair,
    Paired,
    People,
    PeoplePage,
    Resync,
    Role,
    Share,
    Since,
    Snapshot,
    Welcome,
    Whisper,
    decode_server,
    encode,
)
from dreamcommons.contracts.tokens import peek_role

DEFAULT_SESSION = "commons"

Reply = Ack | Paired | CommandResult | Invitation | PeoplePage
InvitableRole = Literal["dreamer", "waker", "watcher"]
CommandAction = Literal["light", "sound", "pace", "warmth", "pressure"]


def split_url(url: str) -> tuple[str, str]:
    """``ws://host:port/session?code=...`` -> (``ws://host:port/session``, ``session``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"expected a ws:// or wss:// URL, got {url!r}")
    session = parts.path.strip("/") or DEFAULT_SESSION
    return f"{parts.scheme}://{parts.netloc}/{session}", session


def url_credentials(url: str) -> tuple[str | None, str | None]:
    """The join code and the invitation a URL carries (``?code=...``, ``?token=...``)."""
    query = parse_qs(urlsplit(url).query)
    code, token = query.get("code"), query.get("token")
    return (code[0] if code else None), (token[0] if token else None)


class DreamClient(StartStop):
    """An async context manager: joined on entry, gone on exit; ``states()`` follows the dream.

    A private session needs its join ``code`` (or ``?code=`` in the URL), an invitation
    ``token`` (its role is the default role), or, as host, the host secret as ``key``.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        role: Role | None = None,
        encoding: Encoding = Encoding.MSGPACK,
        resume: str | None = None,
        key: str | None = None,
        code: str | None = None,
        token: str | None = None,
        ack_timeout: float = 10.0,
        reconnect: bool = False,
        wait_for_server: bool = False,
        on_link: LinkHandler | None = None,
    ) -> None:
        from_url = url_credentials(url)
        self.url, self.session = split_url(url)
        self.name = name
        self.code = code or from_url[0]
        self.token = token or from_url[1]
        self.role: Role = role or (peek_role(self.token) if self.token else None) or "dreamer"
        self.encoding = encoding
        self.resume_token = resume
        self.key = key
        self.ack_timeout = ack_timeout
        self.reconnect = reconnect
        self.wait_for_server = wait_for_server
        self.reconnects = 0
        self.ended: str | None = None  # why a reconnecting client stopped, once it has
        self.connected = asyncio.Event()
        self.participant = ""
        self.tick_hz = 0.0
        self.whisper_max = MAX_WHISPER_CHARS  # the server's own limit, once it welcomed us
        self.join_code: str | None = None  # the code that lets others in (a host's welcome)
        self.errors: list[ErrorFrame] = []
        self.notices: list[Notice] = []  # the server's news, oldest first (journal outages)
        self.acked = 0
        self.resumes_by_sequence = 0  # reconnections that kept the state and took the deltas
        self._tracker: StateTracker | None = None
        self._connection: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._cids = itertools.count(1)
        self._closed = False
        self._closing = False
        self._rng = random.Random()
        self._on_link = on_link

    @property
    def state(self) -> DreamscapeState:
        if self._tracker is None:
            raise RuntimeError("not joined yet")
        return self._tracker.state

    @property
    def resyncs(self) -> int:
        return self._tracker.gaps if self._tracker else 0

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Join (waiting for the server when ``wait_for_server``), then follow the session."""
        await self._connect(patient=self.wait_for_server, pause_first=False)
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name=f"dream-client-{self.name}"
        )

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._connection is not None:
            await self._connection.close()
        self._fail_pending()

    async def _open(self) -> None:
        """Connect and join (or resume): one connection, from the handshake to the welcome."""
        self._connection = await connect(self.url, subprotocols=[self.encoding.value])  # type: ignore[list-item]
        try:
            await self._join()
        except BaseException:
            await self._connection.close()
            raise
        self.connected.set()

    async def _join(self) -> None:
        assert self._connection is not None
        request = Join(
            session=self.session,
            name=self.name,
            role=self.role,
            resume=self.resume_token,
            key=self.key,
            code=self.code,
            token=self.token,
            since=self._since(),
        )
        await self._connection.send(encode(request, self.encoding))
        reply = decode_server(await self._connection.recv(), self.encoding)
        if isinstance(reply, ErrorFrame):
            raise JoinRefused(reply.code, reply.message)
        if not isinstance(reply, Welcome):
            raise UnexpectedReply(f"the server answered the join with {reply.type!r}")
        resumed = request.resume is not None and self.participant in ("", reply.participant)
        self.participant = reply.participant
        self.resume_token = reply.resume
        self.tick_hz = reply.tick_hz
        self.whisper_max = reply.whisper_max
        self.join_code = reply.join_code
        if reply.state is not None:
            self._tracker = StateTracker(reply.state)
        elif self._tracker is None or reply.resumed_from != self._tracker.state.seq:
            raise UnexpectedReply("a welcome without a state, resuming from a state not held")
        else:
            self._tracker.resumed()  # the deltas it missed follow the welcome
            self.resumes_by_sequence += 1
        self._tell(Joined(self.session, self.participant, resumed))

    def _since(self) -> Since | None:
        """The state held, for the server to send only what came after it: when coming back
        as the same participant (or watching), with a state of a named history."""
        if self._tracker is None or not self._tracker.state.epoch:
            return None
        if self.resume_token is None and self.role != "watcher":
            return None
        state = self._tracker.state
        return Since(epoch=state.epoch, seq=state.seq)

    # --- sending -------------------------------------------------------------------------

    async def contribute(
        self,
        motif: str,
        *,
        intensity: float = 0.6,
        valence: float = 0.0,
        arousal: float = 0.5,
        private: bool = False,
        wait: bool = True,
    ) -> int:
        """Raise a motif; its contribution id, once acknowledged (at once with ``wait=False``)."""
        cid = next(self._cids)
        message = Contribute(
            cid=cid,
            motif=motif,
            intensity=intensity,
            valence=valence,
            arousal=arousal,
            private=private,
        )
        await self._request(cid, message, wait)
        return cid

    async def whisper(self, text: str, *, wait: bool = True) -> int:
        cid = next(self._cids)
        await self._request(cid, Whisper(cid=cid, text=text), wait)
        return cid

    async def share(self, level: float | None, *, show_stage: bool | None = None) -> None:
        """How much of your dream the others see, 0..1; applies to what you gave before too.
        ``show_stage``: whether they see your sleep stage (awake, light, deep, rem)."""
        cid = next(self._cids)
        await self._request(cid, Share(cid=cid, level=level, show_stage=show_stage), wait=True)

    async def host(self, action: HostActionName, participant: str | None = None) -> None:
        """As host: start, pause, resume, advance, end, harmonize, or remove a participant."""
        cid = next(self._cids)
        message = HostAction(cid=cid, action=action, participant=participant)
        await self._request(cid, message, wait=True)

    async def invite(self, role: InvitableRole = "dreamer", ttl_s: float = 86_400.0) -> Invitation:
        """As host: a signed invitation to this session for ``role``, valid ``ttl_s`` seconds."""
        cid = next(self._cids)
        reply = await self._request(cid, Invite(cid=cid, role=role, ttl_s=ttl_s), wait=True)
        assert isinstance(reply, Invitation)
        return reply

    async def people(self, offset: int = 0, limit: int = MAX_PEOPLE_PAGE) -> PeoplePage:
        """A page of everyone the session lists, in id order: a large room's states list only
        the hosts and the stages shown (``state.people`` counts everyone)."""
        cid = next(self._cids)
        reply = await self._request(cid, People(cid=cid, offset=offset, limit=limit), wait=True)
        assert isinstance(reply, PeoplePage)
        return reply

    async def pair_device(self, code: str) -> Paired:
        """Claim the device that shows this pairing code; its biometrics then shape your dream."""
        cid = next(self._cids)
        reply = await self._request(cid, Pair(cid=cid, code=code), wait=True)
        assert isinstance(reply, Paired)
        return reply

    async def command(
        self, device: str, action: CommandAction, value: float | None = None
    ) -> CommandResult:
        """Ask one of your devices to act (light, sound, warmth, pressure: 0..1; pace: Hz)."""
        cid = next(self._cids)
        request = Command(cid=cid, device=device, action=action, value=value)
        reply = await self._request(cid, request, wait=True)
        assert isinstance(reply, CommandResult)
        return reply

    async def resync(self) -> None:
        await self.send_frame(encode(Resync(), self.encoding))

    async def send_frame(self, frame: bytes | str) -> None:
        """Send a raw frame (for tools and tests that speak the protocol by hand)."""
        if self._connection is None:
            raise ConnectionLost("not connected")
        try:
            await self._connection.send(frame)
        except ConnectionClosed as exc:
            raise ConnectionLost(str(exc)) from None

    async def _request(self, cid: int, message: BaseModel, wait: bool) -> Reply | None:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[cid] = future
        try:
            await self.send_frame(encode(message, self.encoding))
            if wait:
                return await asyncio.wait_for(future, self.ack_timeout)
            return None
        finally:
            if wait or future.done():
                self._pending.pop(cid, None)

    # --- receiving -----------------------------------------------------------------------

    async def states(self) -> AsyncIterator[DreamscapeState]:
        """Each new state; a slow consumer skips to the newest rather than falling behind."""
        seen = [-1]
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._closed or self.state.seq != seen[0])
            if self._closed and self.state.seq == seen[0]:
                return
            seen[0] = self.state.seq
            yield self.state

    async def wait_for(
        self, predicate: Callable[[DreamscapeState], bool], within: float = 5.0
    ) -> DreamscapeState:
        """The first state (the current one included) for which ``predicate`` holds."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self._closed or predicate(self.state))
        if not predicate(self.state):
            raise ConnectionLost("the connection ended before the state was reached")
        return self.state

    async def _read(self) -> None:
        try:
            while True:
                await self._follow()
                if not self._comes_back():
                    return
                self._tell(Lost())
                try:
                    await self._connect(patient=True, pause_first=True)
                except JoinRefused as refusal:
                    self.errors.append(ErrorFrame(code=refusal.code, message=refusal.message))
                    self.ended = f"join refused: {refusal.message}"
                    return
                self.reconnects += 1
                async with self._changed:
                    self._changed.notify_all()
        finally:
            self._closed = True
            self._fail_pending()
            async with self._changed:
                self._changed.notify_all()

    async def _follow(self) -> None:
        """Read one connection's frames until it ends."""
        assert self._connection is not None
        try:
            async for frame in self._connection:
                await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self.connected.clear()
            self._fail_pending()

    def _comes_back(self) -> bool:
        if not self.reconnect or self._closing or self._connection is None:
            return False
        self.ended = FINAL_CLOSES.get(self._connection.close_code or 0)
        return self.ended is None

    async def _connect(self, *, patient: bool, pause_first: bool) -> None:
        """Connect and join (or resume). Patient: on failure try again with backoff until joined,
        joining fresh when the server no longer knows the resume token; a refusal that trying
        again cannot fix raises ``JoinRefused``. Impatient: the first failure raises."""
        retries = 0
        problem = "the connection dropped"
        wait = pause_first
        while True:
            if wait:
                delay = backoff_delay(retries, self._rng)
                retries += 1
                self._tell(Retrying(retries, delay, problem))
                await asyncio.sleep(delay)
            wait = True
            try:
                await self._open()
            except JoinRefused as refusal:
                if not patient or not self._worth_retrying(refusal):
                    raise
                problem = refusal.message
            except (OSError, WebSocketException, TimeoutError, ConnectionLost) as error:
                if not patient:
                    raise
                problem = str(error) or type(error).__name__
            else:
                return

    def _worth_retrying(self, refusal: JoinRefused) -> bool:
        if refusal.code is ErrorCode.JOURNAL_UNAVAILABLE:
            return True  # the server cannot make the join durable yet: try again later
        if refusal.code is ErrorCode.BAD_RESUME_TOKEN and self.resume_token is not None:
            self.resume_token = None
            self._tell(Forgotten())
            return True
        return False

    def _tell(self, event: LinkEvent) -> None:
        if self._on_link is not None:
            self._on_link(event)

    async def _on_frame(self, frame: bytes | str) -> None:
        assert self._tracker is not None
        message = decode_server(frame, self.encoding)
        changed = False
        match message:
            case Delta():
                outcome = self._tracker.on_delta(message)
                changed = outcome is DeltaOutcome.APPLIED
                if outcome is DeltaOutcome.GAP:
                    await self.resync()
            case Snapshot(state=state):
                changed = self._tracker.on_snapshot(state)
            case Ack() | Paired() | CommandResult() | Invitation() | PeoplePage():
                self.acked += isinstance(message, Ack)
                future = self._pending.pop(message.cid, None)
                if future is not None and not future.done():
                    future.set_result(message)
            case ErrorFrame(ref=ref):
                future = self._pending.pop(ref, None) if ref is not None else None
                if future is not None and not future.done():
                    future.set_exception(Refused(message.code, message.message))
                else:
                    self.errors.append(message)
            case Notice():
                self.notices.append(message)
                changed = True
        if changed:
            async with self._changed:
                self._changed.notify_all()

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost("the connection ended"))
        self._pending.clear()
