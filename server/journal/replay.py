"""Replaying a journal: the same events into a new engine give the same states, tick by tick.

The rule that makes replay exact: a session journals an event only after the engine accepted
it (``engine.apply`` returned), and journals ``Tick(t)`` for each ``engine.tick(t)``, in the
order it did them. So a replay never meets a refusal; if the engine refuses a journaled
event, the journal is corrupt (``JournalCorrupt``). Tombstones (``Erased``) are skipped.
The pacing intents a replayed engine raises are dropped: they were carried out live.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dreamcommons.contracts.protocol import Delta, DreamscapeState
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import DreamEngine, EngineError, Event
from dreamcommons.server.journal.codec import Erased, JournalEvent, Tick, kind_of
from dreamcommons.server.journal.errors import JournalCorrupt
from dreamcommons.server.journal.reading import fetch_events, find_session, iter_events
from dreamcommons.server.journal.records import RecoveredSession
from dreamcommons.server.journal.schema import connect_reader

StateSink = Callable[[DreamscapeState, Delta], Awaitable[None]]
"""Takes each replayed state with the delta that led to it."""


class Replayer:
    """Feeds journaled events to an engine (a new one, or a snapshot's) as the session did."""

    def __init__(
        self, venue: VenuePreset, session_id: str, engine: DreamEngine | None = None
    ) -> None:
        self.engine = engine if engine is not None else DreamEngine(venue, session_id)
        self.fed = 0

    def feed(self, event: JournalEvent) -> tuple[DreamscapeState, Delta] | None:
        """Apply one event; for a tick, return what the tick produced."""
        self.fed += 1
        if isinstance(event, Tick):
            produced = self.engine.tick(event.t)
            self.engine.drain_intents()  # carried out when it happened; a replay paces no one
            return produced
        if isinstance(event, Erased):
            return None
        try:
            self.engine.apply(event)
        except EngineError as exc:
            raise JournalCorrupt(
                f"event {self.fed} of the replay ({kind_of(event)}) refused by the engine: {exc};"
                " only accepted events are journaled"
            ) from exc
        return None


def replay(
    events: Iterable[Event | Tick | Erased],
    venue: VenuePreset,
    session_id: str,
    engine: DreamEngine | None = None,
) -> Iterator[tuple[DreamscapeState, Delta]]:
    """Feed ``events`` to ``engine`` (default: a new one for the venue) and yield what each
    tick produced, in order."""
    replayer = Replayer(venue, session_id, engine)
    for event in events:
        produced = replayer.feed(event)
        if produced is not None:
            yield produced


def restore(session: RecoveredSession, venue: VenuePreset | None = None) -> DreamEngine:
    """The session's engine as it was at its last journaled event: the snapshot's engine (or
    a new one) with the tail replayed onto it. ``engine.state.t`` is where time resumes."""
    preset = venue if venue is not None else session.info.preset()
    replayer = Replayer(preset, session.id, session.engine)
    for event in session.events:
        replayer.feed(event)
    return replayer.engine


def replay_file(
    journal_path: Path, session_id: str, venue: VenuePreset | None = None
) -> Iterator[tuple[DreamscapeState, Delta]]:
    """Every tick of a journaled session, replayed from its start (no snapshot is loaded)."""
    conn = connect_reader(journal_path)
    try:
        info = find_session(conn, session_id)
        preset = venue if venue is not None else info.preset()
        events = (event for _, _, event in iter_events(conn, session_id))
        yield from replay(events, preset, session_id)
    finally:
        conn.close()


async def play(
    journal_path: Path,
    session_id: str,
    speed: float,
    sink: StateSink,
    *,
    venue: VenuePreset | None = None,
) -> None:
    """Play a journaled session back to ``sink`` tick by tick, paced at session time
    divided by ``speed`` (``math.inf``: as fast as possible). Reading and replaying run in a
    worker thread, a chunk ahead of the pacing; the event loop only waits and sinks."""
    if not speed > 0.0:
        raise ValueError("speed must be positive")
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[list[tuple[DreamscapeState, Delta]] | None] = asyncio.Queue(maxsize=2)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay") as worker:
        reader = _ChunkedReplay(journal_path, session_id, venue)
        await loop.run_in_executor(worker, reader.open)
        try:

            async def produce() -> None:
                while True:
                    states = await loop.run_in_executor(worker, reader.next_chunk)
                    await chunks.put(states)
                    if states is None:
                        return

            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(produce(), name=f"replay-read-{session_id}")
                await _pace(chunks, speed, sink)
        finally:
            await loop.run_in_executor(worker, reader.close)


async def _pace(
    chunks: asyncio.Queue[list[tuple[DreamscapeState, Delta]] | None],
    speed: float,
    sink: StateSink,
) -> None:
    loop = asyncio.get_running_loop()
    first: float | None = None
    started = loop.time()
    while (states := await chunks.get()) is not None:
        for state, delta in states:
            if first is None:
                first, started = state.t, loop.time()
            offset = 0.0 if math.isinf(speed) else (state.t - first) / speed
            delay = started + offset - loop.time()
            if delay > 0.0:
                await asyncio.sleep(delay)
            await sink(state, delta)


class _ChunkedReplay:
    """A session's replay, a chunk of events at a time, on one thread's connection."""

    def __init__(self, path: Path, session_id: str, venue: VenuePreset | None) -> None:
        self._path = path
        self._session = session_id
        self._venue = venue
        self._conn: sqlite3.Connection | None = None
        self._replayer: Replayer | None = None
        self._after = 0

    def open(self) -> None:
        self._conn = connect_reader(self._path)
        info = find_session(self._conn, self._session)
        preset = self._venue if self._venue is not None else info.preset()
        self._replayer = Replayer(preset, self._session)

    def next_chunk(self) -> list[tuple[DreamscapeState, Delta]] | None:
        """The states of the next chunk's ticks; None once the session is over."""
        if self._conn is None or self._replayer is None:
            raise RuntimeError("open() the replay first")
        chunk = fetch_events(self._conn, self._session, self._after)
        if not chunk:
            return None
        self._after = chunk[-1][0]
        states = []
        for _, _, event in chunk:
            produced = self._replayer.feed(event)
            if produced is not None:
                states.append(produced)
        return states

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
