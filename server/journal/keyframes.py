"""A journaled night that can be entered anywhere: keyframes of its engine, so that finding
the state at a time replays only the events since the keyframe before it.

One pass over the session's events keeps the engine's snapshot (``encode_snapshot``,
msgpack) after a tick every ``every_s`` of session time, with the journal's ``seq`` of that
tick. Entering the night at ``t`` decodes the last keyframe at or before ``t`` and replays
the events after it up to ``t``. Their memory is bounded: once they hold more than
``MAX_KEYFRAME_BYTES``, every other one is dropped and the spacing doubles.

Everything here reads one connection: call it from one thread only (the replay server's
worker).
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from dreamcommons.contracts.protocol import Delta, DreamscapeState
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal.codec import JournalEvent, Tick, decode_event
from dreamcommons.server.journal.reading import fetch_events, find_session
from dreamcommons.server.journal.replay import Replayer
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK, connect_reader
from dreamcommons.server.journal.snapshots import decode_snapshot, encode_snapshot

KEYFRAME_EVERY_S = 10.0
MAX_KEYFRAME_BYTES = 64 * 2**20


@dataclass(frozen=True, slots=True)
class Keyframe:
    """The engine just after the tick at ``t`` (journal row ``seq``), as a snapshot."""

    t: float
    seq: int
    snapshot: bytes


class NightCursor:
    """A place in the night: the engine there, and the journal row it has read up to."""

    def __init__(self, night: IndexedNight, engine: DreamEngine, after: int) -> None:
        self._night = night
        self._replayer = Replayer(night.venue, night.session_id, engine)
        self._after = after
        self._pending: list[tuple[int, JournalEvent]] = []
        self.ended = False

    @property
    def state(self) -> DreamscapeState:
        return self._replayer.engine.state

    @property
    def engine(self) -> DreamEngine:
        return self._replayer.engine

    @property
    def after(self) -> int:
        """The journal ``seq`` of the last event fed."""
        return self._after

    def advance(self, max_ticks: int) -> list[tuple[DreamscapeState, Delta]]:
        """The next ticks (at most ``max_ticks``) with what each produced; [] at the end."""
        produced: list[tuple[DreamscapeState, Delta]] = []
        while len(produced) < max_ticks and self._fill():
            seq, event = self._pending.pop()
            self._after = seq
            result = self._replayer.feed(event)
            if result is not None:
                produced.append(result)
        return produced

    def advance_to(self, t: float) -> None:
        """Feed events up to the last tick at or before ``t`` (the next tick stays unread)."""
        while self._fill():
            seq, event = self._pending[-1]
            if isinstance(event, Tick) and round(event.t, 3) > t:  # the engine's own rounding
                return
            self._pending.pop()
            self._after = seq
            self._replayer.feed(event)

    def _fill(self) -> bool:
        """Events are waiting to be fed (reading the next chunk if need be)."""
        if not self._pending:
            chunk = fetch_events(self._night.conn, self._night.session_id, self._after)
            self._pending = [(seq, event) for seq, _, event in reversed(chunk)]  # popped last
            self.ended = not chunk
        return not self.ended


class IndexedNight:
    """One journaled session with its keyframes; ``enter(t)`` gives a cursor there."""

    def __init__(self, journal_path: Path, session_id: str, venue: VenuePreset | None) -> None:
        self.conn: sqlite3.Connection = connect_reader(journal_path)
        info = find_session(self.conn, session_id)
        self.session_id = session_id
        self.venue = venue if venue is not None else info.preset()
        self.duration_s = self._last_tick_t()
        self.every_s = KEYFRAME_EVERY_S
        self.max_bytes = MAX_KEYFRAME_BYTES
        self.keyframes: list[Keyframe] = []
        self._times: list[float] = []  # the keyframes' t, for bisect
        self.indexed = False  # the pass over the night is done
        self._building: NightCursor | None = None
        self._due = 0.0
        self._held = 0

    def build(self) -> None:
        """Replay the whole session once, keeping a keyframe every ``every_s``."""
        while self.build_some(math.inf):
            pass

    def build_some(self, ticks: float) -> bool:
        """Go on with the pass for up to ``ticks`` more ticks, keeping a keyframe every
        ``every_s`` (each taken just after a tick, as the journal takes its snapshots); False
        once the night is indexed. ``enter`` works at any point of the pass: it starts from
        the last keyframe kept so far."""
        if self._building is None:
            if self.indexed:
                return False
            self._building = NightCursor(self, DreamEngine(self.venue, self.session_id), 0)
        cursor, done = self._building, 0
        while done < ticks:
            produced = cursor.advance(1)
            if not produced:
                self._building, self.indexed = None, True
                return False
            done += 1
            t = produced[0][0].t
            if t < self._due:
                continue
            self._keep(Keyframe(t, cursor.after, encode_snapshot(cursor.engine)))
            self._due = t + self.every_s
        return True

    def _keep(self, frame: Keyframe) -> None:
        self.keyframes.append(frame)
        self._times.append(frame.t)
        self._held += len(frame.snapshot)
        if self._held > self.max_bytes and len(self.keyframes) > 1:
            self.keyframes = self.keyframes[::2]
            self._times = [kept.t for kept in self.keyframes]
            self._held = self.keyframe_bytes
            self.every_s *= 2

    def enter(self, t: float) -> NightCursor:
        """A cursor at the last tick at or before ``t`` (before the first tick: a new engine)."""
        at = bisect.bisect_right(self._times, t) - 1
        if at < 0:
            cursor = NightCursor(self, DreamEngine(self.venue, self.session_id), 0)
        else:
            frame = self.keyframes[at]
            engine = decode_snapshot(SNAPSHOT_MSGPACK, frame.snapshot, self.venue)
            cursor = NightCursor(self, engine, frame.seq)
        cursor.advance_to(t)
        return cursor

    @property
    def keyframe_bytes(self) -> int:
        return sum(len(frame.snapshot) for frame in self.keyframes)

    def close(self) -> None:
        self.conn.close()

    def _last_tick_t(self) -> float:
        row = self.conn.execute(
            "SELECT kind, payload FROM events WHERE session = ? AND kind = 'Tick'"
            " ORDER BY seq DESC LIMIT 1",
            (self.session_id,),
        ).fetchone()
        if row is None:
            return 0.0
        last = decode_event(row[0], row[1])
        return float(last.t) if isinstance(last, Tick) and math.isfinite(last.t) else 0.0
