"""One dream session: its members, its engine, its tick loop and its broadcast.

The session is the async shell around the pure engine: it turns validated wire messages into
engine events, ticks the engine on a fixed schedule, and sends each delta to every listener,
encoded once per encoding per tick; those frames are kept a while (``RecentDeltas``) for a
member who comes back saying which state it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from websockets.asyncio.server import ServerConnection, broadcast

from dreamcommons.contracts.errors import (
    CloseCode,
    ErrorCode,
    LimitExceeded,
    NotAllowed,
    ProtocolError,
)
from dreamcommons.contracts.protocol import (
    MAX_WHISPER_CHARS,
    Ack,
    Contribute,
    Delta,
    DreamscapeState,
    Encoding,
    HostAction,
    Join,
    Notice,
    NoticeCode,
    People,
    PeoplePage,
    Role,
    Share,
    Snapshot,
    Welcome,
    Whisper,
    encode,
    encode_with_state,
    error_frame,
)
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.absences import AbsencePolicy, Absences, Moved
from dreamcommons.server.durability import Durability
from dreamcommons.server.engine import ContributionRefused, DreamEngine, EngineError, Pace, events
from dreamcommons.server.fanout import Fanout, write_once
from dreamcommons.server.journal import RecoveredMember, token_hash
from dreamcommons.server.journal.signals import SignalSecond
from dreamcommons.server.recent_deltas import Frame, RecentDeltas
from dreamcommons.server.remote_link import RemoteLink

log = logging.getLogger(__name__)
_HEX_DIGITS = frozenset("0123456789abcdef")

PaceHandler = Callable[["DreamSession", Pace], None]

Link = ServerConnection | RemoteLink  # a member's connection: here, or on a cluster gateway
DeltaPublisher = Callable[[int, Encoding, Frame, Callable[[], Frame]], None]
"""Told each delta's seq and frame in every encoding, and how to get this tick's snapshot."""

RECENT_DELTAS_S = 30.0  # how much of the recent past a session replays to a client that resumes


@dataclass(eq=False, slots=True)
class Member:
    """A participant of a session, connected or away; the resume token brings them back."""

    pid: str
    name: str
    role: str
    resume_token: str  # "" for a member recovered from the journal, until they resume
    token_digest: str = ""
    connection: Link | None = None
    encoding: Encoding = Encoding.MSGPACK
    last_cid: int = -1
    share: events.ShareChanged | None = (
        None  # their last share change, for when they are listed again
    )
    tag: int | None = None  # tells them apart from others of the same name (ParticipantView.tag)


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``DreamSession.join`` gives the gateway: the member it admitted (new or resumed),
    their welcome, complete, and, resuming by sequence, the frames of the deltas they missed.
    The connection listens already: the gateway writes the welcome and ``replay`` before it
    awaits anything, so that no live delta comes between them."""

    member: Member
    welcome: Welcome
    replay: tuple[Frame, ...] = ()


@dataclass(slots=True)
class SessionStats:
    ticks: int = 0
    contributions_accepted: int = 0
    whispers_accepted: int = 0
    broadcast_frames: int = 0
    broadcast_bytes: int = 0
    tick_seconds_max: float = 0.0
    sleeper_updates: int = 0
    resumed_by_sequence: int = 0  # a join with ``since`` answered with the deltas it missed
    resumed_with_state: int = 0  # a join with ``since`` that needed the full state
    refused: Counter[str] = field(default_factory=Counter)  # counted by the gateway, by code


class DreamSession:
    """A session's members and dreamscape; ``run()`` ticks it until cancelled."""

    def __init__(
        self,
        session_id: str,
        venue: VenuePreset,
        *,
        on_pace: PaceHandler | None = None,
        engine: DreamEngine | None = None,
        journal: Durability | None = None,
        fanout: Fanout | None = None,
        whisper_max: int = MAX_WHISPER_CHARS,
        absences: AbsencePolicy | None = None,
        recent_deltas_s: float = RECENT_DELTAS_S,
        publish: DeltaPublisher | None = None,
    ) -> None:
        self.id = session_id
        self.venue = venue
        self.whisper_max = whisper_max  # the server's whisper limit, told in every welcome
        self._on_pace = on_pace
        self.engine = engine if engine is not None else DreamEngine(venue, session_id)
        # a new history of seqs at every start, recovered from the journal too: a client that
        # holds a state of another history is never sent deltas that do not follow from it
        self.epoch = secrets.token_urlsafe(12)
        self.engine.begin_epoch(self.epoch)
        self.recent: RecentDeltas[Encoding] = RecentDeltas(round(recent_deltas_s * venue.tick_hz))
        self.journal = journal
        self.fanout = fanout if fanout is not None else Fanout(256 * 1024, 5.0)
        self.stats = SessionStats()
        self._members: dict[str, Member] = {}
        self._named: dict[str, set[str]] = {}  # case-folded name -> the members of that name
        self._by_token: dict[str, Member] = {}
        self.absences = Absences(absences if absences is not None else AbsencePolicy())
        self._recovered_tags: dict[str, int | None] | None = None  # the dream's, at recovery
        self._listeners: dict[Encoding, set[ServerConnection]] = {e: set() for e in Encoding}
        self._resyncing: set[ServerConnection] = set()  # snapshots asked for the next tick
        self._state_frames: dict[Encoding, tuple[DreamscapeState, Frame]] = {}  # for welcomes
        self._next_pid = 1
        self._t0: float | None = None
        self.tick_observer: Callable[[float], None] | None = None
        # a cluster's owner: every delta in every encoding, for gateways elsewhere to forward
        self.publish = publish

    @property
    def members(self) -> list[Member]:
        return list(self._members.values())

    def listener_count(self) -> int:
        return sum(len(connections) for connections in self._listeners.values())

    def present_count(self) -> int:
        return sum(1 for m in self._members.values() if m.connection is not None)

    def listed_count(self) -> int:
        """Members every welcome lists: present, and away for a while (not yet hidden)."""
        return len(self._members) - self.absences.hidden

    # --- membership ----------------------------------------------------------------------

    async def join(
        self,
        request: Join,
        connection: Link,
        encoding: Encoding,
        *,
        join_code: str | None = None,
    ) -> Admission:
        """Admit a new member, or bring one back by resume token (in the role it was given),
        and start listening once that is durable (the welcome carries the resume token: it
        must survive a crash). Whether the request may join at all was checked before;
        ``join_code`` is for a host's welcome only."""
        self._require_durable()
        if request.resume is not None:
            member = self._by_token.get(token_hash(request.resume))
            if member is None or member.role != request.role:
                raise NotAllowed(
                    ErrorCode.BAD_RESUME_TOKEN, "unknown resume token for this session"
                )
            if self.absences.is_hidden(member.pid):
                self._make_room()
            member.resume_token = request.resume
            previous = member.connection
            if previous is not None and previous is not connection:
                self._stop_listening(member.encoding, previous)
                previous_close = previous.close(CloseCode.REPLACED, "resumed elsewhere")
                asyncio.get_running_loop().create_task(previous_close, name=f"close-{member.pid}")
            if self.absences.returned(member.pid):
                self._list_again(member)
            else:
                self._apply(events.PresenceChanged(participant=member.pid, present=True))
        else:
            self._make_room()
            pid = f"p{self._next_pid:x}"  # hex: every delta's ``applied`` names them
            self._next_pid += 1
            token = secrets.token_urlsafe(24)
            member = Member(pid, request.name, request.role, token, token_hash(token))
            member.tag = self._tag_for(member)
            self._add_member(member)
            self._by_token[member.token_digest] = member
            if self.journal is not None:
                self.journal.member_joined(pid, member.name, member.role, token)
            joined = events.ParticipantJoined(
                participant=pid, name=member.name, role=request.role, tag=member.tag
            )
            self._apply(joined)
        member.connection = connection
        member.encoding = encoding
        try:
            await self.durable()
        except NotAllowed:
            self.disconnect(member, connection)
            raise
        # from here to the return nothing is awaited: the state (or the replay) and the
        # listening start at the same tick, whatever ticks passed while the join was made durable
        if isinstance(connection, ServerConnection):
            self._listeners[encoding].add(connection)
        replay = self._replay(request, encoding)
        welcome = Welcome(
            participant=member.pid,
            resume=member.resume_token,
            tick_hz=self.venue.tick_hz,
            whisper_max=self.whisper_max,
            state=self.engine.state if replay is None else None,
            resumed_from=None if replay is None or request.since is None else request.since.seq,
            join_code=join_code,
        )
        return Admission(member, welcome, () if replay is None else tuple(replay))

    def _replay(self, request: Join, encoding: Encoding) -> list[Frame] | None:
        """The frames of the deltas after the state the join says it holds (``since``), when
        that state is of this session's epoch and every one of them is still held; None: the
        welcome carries the full state, as it does when those frames outweigh the state. A
        newcomer (no resume token) holds no state of this session unless watching, so its
        ``since`` is not heeded."""
        since = request.since
        if since is None or (request.resume is None and request.role != "watcher"):
            return None
        frames = None
        if since.epoch == self.epoch:
            frames = self.recent.after(encoding, since.seq, self.engine.state.seq)
        if frames is not None and _size(frames) > _size([encode(self.snapshot(), encoding)]):
            frames = None  # what was missed outweighs the state itself: the state comes instead
        if frames is None:
            self.stats.resumed_with_state += 1
        else:
            self.stats.resumed_by_sequence += 1
        return frames

    def disconnect(self, member: Member, connection: Link) -> None:
        """The connection is gone; the member stays, away, until they resume (see
        ``server.absences`` for how long they are listed and how long they may resume)."""
        self._stop_listening(member.encoding, connection)
        if member.connection is connection:
            member.connection = None
            self._apply(events.PresenceChanged(participant=member.pid, present=False))
            self._moved(self.absences.left(member.pid, time.monotonic()))

    def _stop_listening(self, encoding: Encoding, connection: Link) -> None:
        if isinstance(connection, ServerConnection):
            self._listeners[encoding].discard(connection)
            self._resyncing.discard(connection)
            self.fanout.forget(connection)

    def readmit(self, recovered: RecoveredMember) -> None:
        """Bring back a member the journal remembers, away until they resume with their token;
        one the recovered dream no longer lists (hidden before the restart) is resumable for
        the resume window from now, and the oldest past ``max_resumable`` are forgotten."""
        if recovered.left:
            return
        member = Member(recovered.pid, recovered.name, recovered.role, "", recovered.token_hash)
        member.last_cid = recovered.last_cid
        if self._recovered_tags is None:
            self._recovered_tags = {p.id: p.tag for p in self.engine.state.participants}
        member.tag = self._recovered_tags.get(member.pid)
        self._add_member(member)
        self._by_token[member.token_digest] = member
        number = recovered.pid.removeprefix("p")
        if number and all(digit in _HEX_DIGITS for digit in number):
            # a journal of decimal ids reads them as hex too: never less than the decimal,
            # so every id given after this one is new
            self._next_pid = max(self._next_pid, int(number, 16) + 1)
        try:
            self._apply(events.PresenceChanged(participant=member.pid, present=False))
        except EngineError:
            self._moved(self.absences.hidden_at_recovery(member.pid, time.monotonic()))
        else:
            self._moved(self.absences.left(member.pid, time.monotonic()))

    def _make_room(self) -> None:
        """Before listing one more member: hide the longest away if the session would list
        more than ``max_members``; refuse when everyone listed is here."""
        hidden = self.absences.make_room(self.listed_count())
        if hidden is None:
            limit = self.absences.policy.max_members
            raise LimitExceeded(
                ErrorCode.SESSION_FULL, f"this session has its {limit} members; try again later"
            )
        self._moved(Moved(hidden=hidden))

    def _list_again(self, member: Member) -> None:
        """A hidden member resumed: listed again as the same participant, with their share."""
        role = cast(Role, member.role)  # a role the session gave them when they joined
        member.tag = self._tag_for(member)
        joined = events.ParticipantJoined(
            participant=member.pid, name=member.name, role=role, tag=member.tag
        )
        self._apply(joined)
        if member.share is not None:
            self._apply(member.share)

    def _tag_for(self, member: Member) -> int | None:
        """The smallest number from 2 that no listed member of the same name (case-folded)
        holds, or None when nobody else listed has that name (an untagged one holds 1)."""
        namesakes = self._named.get(member.name.casefold())
        if not namesakes:
            return None
        taken = {
            other.tag or 1
            for other in map(self._members.__getitem__, namesakes)
            if other is not member and self._listed(other.pid)
        }
        if not taken:
            return None
        return next(n for n in itertools.count(2) if n not in taken)

    def _add_member(self, member: Member) -> None:
        self._members[member.pid] = member
        self._named.setdefault(member.name.casefold(), set()).add(member.pid)

    def _pop_member(self, pid: str) -> Member | None:
        member = self._members.pop(pid, None)
        if member is not None:
            key = member.name.casefold()
            namesakes = self._named[key]
            namesakes.discard(pid)
            if not namesakes:
                del self._named[key]
        return member

    def _moved(self, moved: Moved) -> None:
        """Members who stopped being listed leave the dream (a ``left`` in the next delta);
        those who can no longer resume are forgotten, here and in the journal."""
        for pid in moved.hidden:
            with contextlib.suppress(EngineError):  # recovered, and not in the dream
                self._apply(events.ParticipantLeft(participant=pid))
        for pid in moved.forgotten:
            member = self._pop_member(pid)
            if member is not None:
                self._by_token.pop(member.token_digest, None)
                if self.journal is not None:
                    self.journal.member_left(pid)

    def expire_absences(self, now: float) -> None:
        """Hide and forget, as ``server.absences`` says, whoever has been gone long enough."""
        moved = self.absences.expire(now)
        if moved.hidden or moved.forgotten:
            self._moved(moved)

    def _apply(self, event: events.Event) -> None:
        """Hand the engine an event, then journal it (only accepted events are journaled)."""
        self.engine.apply(event)
        if self.journal is not None:
            self.journal.record(event)

    def _require_durable(self) -> None:
        if self.journal is not None and not self.journal.accepting:
            raise self.journal.unavailable()

    async def acknowledge(
        self,
        connection: ServerConnection,
        encoding: Encoding,
        reply: Ack,
        *,
        refused: Callable[[ProtocolError], None] | None = None,
    ) -> None:
        """Send ``reply`` once what it acknowledges is durable; an error frame if it cannot be
        (and ``refused(error)``, for whoever counts refusals)."""
        if self.journal is None:
            await connection.send(encode(reply, encoding))
            return

        def send(answer: Ack | ProtocolError) -> None:
            if isinstance(answer, ProtocolError) and refused is not None:
                refused(answer)
            frame = error_frame(answer) if isinstance(answer, ProtocolError) else answer
            write_once([connection], encode(frame, encoding))

        self.journal.acknowledge(reply, send)

    async def durable(self) -> None:
        """Wait until everything this session recorded so far is on disk."""
        if self.journal is not None:
            await self.journal.durable()

    # --- contributions -------------------------------------------------------------------

    def contribute(self, member: Member, message: Contribute | Whisper) -> Ack:
        """Queue a contribution for the next tick. Who may contribute is the engine's rule
        (its ``ContributionRefused`` becomes the ``forbidden`` error here, nothing more)."""
        self._require_durable()
        event: events.MotifContributed | events.Whispered
        if isinstance(message, Contribute):
            event = events.MotifContributed(
                participant=member.pid,
                cid=message.cid,
                motif=message.motif,
                intensity=message.intensity,
                valence=message.valence,
                arousal=message.arousal,
                private=message.private,
            )
        else:
            event = events.Whispered(participant=member.pid, cid=message.cid, text=message.text)
        try:
            self._apply(event)
        except ContributionRefused as refused:
            raise NotAllowed(ErrorCode.FORBIDDEN, str(refused)) from None
        if isinstance(event, events.MotifContributed):
            self.stats.contributions_accepted += 1
        else:
            self.stats.whispers_accepted += 1
        member.last_cid = max(member.last_cid, message.cid)
        return Ack(cid=message.cid)

    def share(self, member: Member, message: Share) -> Ack:
        """Set what the member shares; one that sets what is set is acknowledged, no more: no
        event, nothing journaled."""
        self._require_durable()
        change = events.ShareChanged(
            participant=member.pid, level=message.level, show_stage=message.show_stage
        )
        if self.engine.share_changes(change):
            self._apply(change)
            member.share = _merged_share(member.share, change)
        return Ack(cid=message.cid)

    def host_action(self, member: Member, message: HostAction) -> Ack:
        """Phases, harmonizing and removing someone: for the host only."""
        if member.role != "host":
            raise NotAllowed(ErrorCode.FORBIDDEN, "only the host may do that")
        self._require_durable()
        if message.action == "remove":
            self.remove(message.participant or "")
        else:
            self._apply(events.HostCommanded(action=message.action))
        return Ack(cid=message.cid)

    def remove(self, pid: str) -> None:
        """Take a participant out of the session for good: closed, token void, gone."""
        member = self._pop_member(pid)
        if member is None:
            raise NotAllowed(ErrorCode.INVALID_FIELD, f"no participant {pid!r} in this session")
        self._by_token.pop(member.token_digest, None)
        self.absences.discard(pid)
        if member.connection is not None:
            self._stop_listening(member.encoding, member.connection)
            closing = member.connection.close(CloseCode.REMOVED, "removed by the host")
            asyncio.get_running_loop().create_task(closing, name=f"remove-{pid}")
            member.connection = None
        if self.journal is not None:
            self.journal.member_left(pid)
        self._apply(events.ParticipantLeft(participant=pid))

    # --- devices -------------------------------------------------------------------------

    def member(self, pid: str) -> Member | None:
        return self._members.get(pid)

    def sleeper_updated(self, update: events.SleeperUpdated) -> None:
        """The device side's news of a sleeper (estimated in ``server.devices``), for the
        engine; ``update.t`` is session time (see ``clock``)."""
        if self._listed(update.participant):
            self.stats.sleeper_updates += 1
            self._apply(update)

    def paired(self, pid: str, device_id: str) -> None:
        """One of ``pid``'s devices is theirs now: journaled, so it stays theirs after a restart."""
        if self.journal is not None:
            self.journal.paired(pid, device_id)

    @property
    def keeps_signals(self) -> bool:
        """Whether ``signals_recorded`` keeps anything: only a journaled session does."""
        return self.journal is not None

    def signals_recorded(self, pid: str, second: SignalSecond) -> None:
        """A second of the sleeper's readings, from the device side: journaled as their own
        data (exported and erased with it), never shown to anyone; kept only with a journal."""
        if self.journal is not None and pid in self._members:
            self.journal.signals(pid, second)

    def devices_changed(self, pid: str, online: int) -> None:
        if self._listed(pid):
            self._apply(events.DevicesChanged(participant=pid, online=online))

    def _listed(self, pid: str) -> bool:
        return pid in self._members and not self.absences.is_hidden(pid)

    def clock(self, monotonic: float) -> float:
        """Session time (seconds since the first tick) of a ``loop.time()`` instant."""
        return 0.0 if self._t0 is None else monotonic - self._t0

    def people(self, request: People) -> PeoplePage:
        """A page of everyone listed, as of the last tick."""
        total, page = self.engine.people_page(request.offset, request.limit)
        return PeoplePage(cid=request.cid, offset=request.offset, total=total, participants=page)

    def snapshot(self) -> Snapshot:
        return Snapshot(state=self.engine.state)

    def welcome_frame(self, welcome: Welcome, encoding: Encoding) -> Frame:
        """``welcome`` as a frame. The state it carries, when it is the last tick's, is encoded
        once per tick and encoding for every welcome: seating a large room would otherwise
        encode the same state for each newcomer."""
        state = welcome.state
        if state is None or state is not self.engine.state:
            return encode(welcome, encoding)
        cached = self._state_frames.get(encoding)
        if cached is None or cached[0] is not state:
            cached = self._state_frames[encoding] = (state, encode(state, encoding))
        return encode_with_state(welcome, cached[1], encoding)

    def resync(self, connection: ServerConnection) -> None:
        """Send ``connection`` a snapshot at the next tick, in place of that tick's delta."""
        self._resyncing.add(connection)

    def resync_pending(self, connection: ServerConnection) -> bool:
        """Whether ``connection`` waits for a snapshot already: that one answers another
        resync too, at no further cost."""
        return connection in self._resyncing

    # --- ticking -------------------------------------------------------------------------

    async def run(self) -> None:
        """Tick at the venue's rate on an absolute schedule, so that ticks never drift."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.venue.tick_hz
        self._t0 = loop.time() - self.engine.state.t  # a recovered dream goes on from its time
        deadline = loop.time()
        told_writable = True  # what members were last told of the journal
        try:
            while True:
                deadline += period
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                started = loop.time()
                if self.journal is None:
                    self.tick(started - self._t0)
                elif self.journal.tick_allowed():
                    delta = self._advance(started - self._t0)
                    self._broadcast(delta)  # shown at once; acknowledged once the commit is done
                    self.journal.tick(delta.t, self.engine)
                    if self.journal.writable != told_writable:  # the last commits' outcome
                        told_writable = self.journal.writable
                        self._tell_journal(told_writable)
                elapsed = loop.time() - started
                self.stats.tick_seconds_max = max(self.stats.tick_seconds_max, elapsed)
                if self.tick_observer is not None:
                    self.tick_observer(elapsed)
                if loop.time() > deadline + period:
                    deadline = loop.time()  # we fell behind; skip ticks rather than bunch them
        finally:
            if self.journal is not None:
                self.journal.abandon()  # nobody waits for a commit that will not come

    def tick(self, now: float) -> Delta:
        delta = self._advance(now)
        self._broadcast(delta)
        return delta

    def _advance(self, now: float) -> Delta:
        self.expire_absences(time.monotonic())
        _, delta = self.engine.tick(now)
        self.stats.ticks += 1
        for intent in self.engine.drain_intents():
            if self._on_pace is not None:
                self._on_pace(self, intent)
        return delta

    def _snapshot_frame(self, encoding: Encoding) -> Callable[[], bytes | str]:
        """This tick's snapshot in ``encoding``, encoded on first use and once: every
        connection that gets one this tick (asked for, or caught up) gets the same bytes."""

        @functools.cache
        def frame() -> bytes | str:
            return encode(self.snapshot(), encoding)

        return frame

    def _tell_journal(self, writable: bool) -> None:
        """Tell every connected member that contributions are refused, or accepted again."""
        if writable:
            notice = Notice(
                code=NoticeCode.JOURNAL_AVAILABLE,
                message="the journal writes again: contributions are acknowledged",
            )
        else:
            notice = Notice(
                code=NoticeCode.JOURNAL_UNAVAILABLE,
                message="the journal cannot be written: contributions are refused for now",
            )
        for encoding, connections in self._listeners.items():
            if connections:
                broadcast(connections, encode(notice, encoding))

    def _broadcast(self, delta: Delta) -> None:
        now = asyncio.get_running_loop().time()
        resyncing, self._resyncing = self._resyncing, set()
        for encoding, connections in self._listeners.items():
            if not connections and self.publish is None:
                continue
            frame = encode(delta, encoding)
            self.recent.record(encoding, delta.seq, frame)
            catch_up = self._snapshot_frame(encoding)
            if self.publish is not None:
                self.publish(delta.seq, encoding, frame, catch_up)
            if connections:
                sent = self.fanout.send(connections, frame, catch_up, now, resyncing=resyncing)
                for dropped in sent:
                    connections.discard(dropped)
                self.stats.broadcast_frames += len(connections)
                self.stats.broadcast_bytes += len(frame) * len(connections)


def _merged_share(
    before: events.ShareChanged | None, change: events.ShareChanged
) -> events.ShareChanged:
    """A member's share as one change: the latest level and stage consent, each kept when a
    later change leaves it unchanged (None)."""
    if before is None:
        return change
    return events.ShareChanged(
        participant=change.participant,
        level=before.level if change.level is None else change.level,
        show_stage=before.show_stage if change.show_stage is None else change.show_stage,
    )


def _size(frames: Iterable[Frame]) -> int:
    """What frames weigh on the wire, near enough (a JSON frame is counted in characters)."""
    return sum(len(frame) for frame in frames)
