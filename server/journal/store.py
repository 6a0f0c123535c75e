"""``Journal``: the append-only, group-committed journal of a server's sessions, over SQLite.

``append`` and the ``record_*`` calls only buffer (no I/O, safe on the event loop); ``commit``
writes everything buffered in one transaction, in one dedicated worker thread, and returns
once it is on disk (WAL, ``synchronous=FULL``). A session acknowledges a contribution only
after the commit that holds it returned. Commits are serialized, so the journal never holds a
later group without an earlier one. A failed commit keeps its items buffered for the next
attempt and marks the journal unhealthy until a commit succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import DreamEngine, Event
from dreamcommons.server.journal.batch import (
    MEMBER_LEFT,
    UPSERT_MEMBER,
    UPSERT_PAIRING,
    UPSERT_SESSION,
    Batch,
    write_batch,
)
from dreamcommons.server.journal.codec import (
    Erased,
    JournalEvent,
    Tick,
    cid_of,
    encode_event,
    kind_of,
    participant_of,
)
from dreamcommons.server.journal.errors import JournalCorrupt, JournalUnavailable
from dreamcommons.server.journal.lock import JournalLock
from dreamcommons.server.journal.reading import CHUNK, fetch_events, recover_sessions
from dreamcommons.server.journal.records import JournalStats, RecoveredSession, is_token_hash
from dreamcommons.server.journal.schema import connect_writer
from dreamcommons.server.journal.signals import INSERT_SIGNALS, SignalSecond, encode_readings
from dreamcommons.server.journal.snapshots import encode_snapshot

log = logging.getLogger(__name__)

T = TypeVar("T")

_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class Journal:
    """A server's journal file. ``async with Journal(path) as journal:`` opens and closes it.

    ``max_bytes`` caps the file (SQLite's ``max_page_count``): past it, commits fail as on a
    full disk. ``max_pending`` bounds the buffer while commits fail: past it, ``append``
    raises ``JournalUnavailable`` (check ``has_room()`` before applying an event)."""

    def __init__(
        self,
        path: Path,
        *,
        keep_snapshots: int = 2,
        max_pending: int = 500_000,
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.stats = JournalStats()
        self.healthy = True
        self.last_error: str | None = None
        self._keep_snapshots = max(1, keep_snapshots)
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used in the worker thread only
        self._hold = JournalLock(self.path)  # shared while open: erasure waits for the close
        self._pending = Batch()
        self._lock = asyncio.Lock()
        self._inflight: asyncio.Future[float] | None = None
        self._next_seq = 1
        self._durable_seq = 0
        self._sessions: dict[str, str] = {}  # id -> venue name, committed or buffered

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file and its schema; continue numbering after its last event."""
        if self._executor is not None:
            raise RuntimeError("the journal is already open")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        try:
            self._next_seq, self._sessions = await self._call(self._open_sync)
            self._durable_seq = self._next_seq - 1
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _open_sync(self) -> tuple[int, dict[str, str]]:
        self._hold.shared()
        try:
            self._conn = conn = connect_writer(self.path)
        except BaseException:
            self._hold.release()
            raise
        try:
            if self._max_bytes is not None:
                self._apply_max_bytes(self._max_bytes)
            last = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
            sessions = dict(conn.execute("SELECT id, venue FROM sessions").fetchall())
        except BaseException:
            self._close_sync()
            raise
        return (last or 0) + 1, sessions

    async def close(self) -> None:
        """Commit what is buffered (if it can; else say loudly what is lost) and close."""
        if self._executor is None:
            return
        try:
            if self._pending or self._inflight is not None:
                await self.commit()
        except JournalUnavailable as exc:
            lost = len(self._pending.events)
            log.error("journal %s closed with %d events not durable: %s", self.path, lost, exc)
        finally:
            await self._call(self._close_sync)
            self._executor.shutdown(wait=False)
            self._executor = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._hold.release()

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def set_max_bytes(self, max_bytes: int | None) -> None:
        """Change the cap on the file's size (None: as large as SQLite allows)."""
        self._max_bytes = max_bytes
        await self._call(partial(self._apply_max_bytes, max_bytes))

    def _apply_max_bytes(self, max_bytes: int | None) -> None:
        conn = self._connection()
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = 0xFFFFFFFE if max_bytes is None else max(1, max_bytes // page)
        conn.execute(f"PRAGMA max_page_count={int(pages)}")

    # --- buffering (no I/O) ----------------------------------------------------------------

    def record_session(
        self, session_id: str, venue: str | VenuePreset, host_key_hash: str | None = None
    ) -> None:
        """A session and its venue (pass the preset to make replay independent of seeds/)."""
        name = venue if isinstance(venue, str) else venue.name
        preset = None if isinstance(venue, str) else venue.model_dump_json()
        known = self._sessions.get(session_id)
        if known is not None and known != name:
            raise ValueError(f"session {session_id} is journaled with venue {known}, not {name}")
        self._sessions[session_id] = name
        self._pending.rows.append((UPSERT_SESSION, (session_id, name, preset, host_key_hash)))

    def record_member(
        self, session_id: str, pid: str, name: str, role: str, resume_token_hash: str
    ) -> None:
        """A new member; ``resume_token_hash`` is ``token_hash(token)``, never the token."""
        self._known(session_id)
        if not is_token_hash(resume_token_hash):
            raise ValueError("record_member takes token_hash(token), not the token itself")
        self._pending.rows.append((UPSERT_MEMBER, (session_id, pid, name, role, resume_token_hash)))

    def record_member_left(self, session_id: str, pid: str) -> None:
        """The member was removed for good: their resume token no longer brings them back."""
        self._known(session_id)
        self._pending.rows.append((MEMBER_LEFT, (session_id, pid)))

    def record_pairing(self, session_id: str, pid: str, device_id: str) -> None:
        """The device is paired to the participant (a device has one owner per session)."""
        self._known(session_id)
        self._pending.rows.append((UPSERT_PAIRING, (session_id, device_id, pid)))

    def record_signals(self, session_id: str, pid: str, second: SignalSecond) -> None:
        """One second of a sleeper's readings (their own data: exported and erased with it)."""
        self._known(session_id)
        row = (session_id, pid, second.t, second.wall, encode_readings(second.readings))
        self._pending.rows.append((INSERT_SIGNALS, row))

    def has_room(self) -> bool:
        """Whether ``append`` will take another event (the backlog is below its bound)."""
        return len(self._pending.events) < self._max_pending

    def append(self, session_id: str, event: Event | Tick) -> int:
        """Buffer an event the engine accepted (or a tick); return its journal position."""
        self._known(session_id)
        if isinstance(event, Erased):
            raise TypeError("tombstones are written by erase_participant only")
        if not self.has_room():
            raise JournalUnavailable(
                f"journal {self.path}: {len(self._pending.events)} events wait for a commit"
            )
        payload = encode_event(event)
        seq = self._next_seq
        self._next_seq += 1
        self._pending.events.append(
            (seq, session_id, kind_of(event), participant_of(event), cid_of(event), payload)
        )
        self.stats.events_appended += 1
        return seq

    def snapshot(self, session_id: str, upto_event: int, engine: DreamEngine) -> None:
        """Buffer the engine as it is now, having consumed every event up to ``upto_event``
        (take it right after a tick: ``upto_event`` is that Tick's position)."""
        self._known(session_id)
        if not 0 < upto_event < self._next_seq:
            raise ValueError(f"no event {upto_event} in the journal yet")
        # Encoded now, on the caller's thread: it captures the engine before it moves on.
        blob = encode_snapshot(engine)
        self._pending.snapshots.append((session_id, upto_event, blob))

    def _known(self, session_id: str) -> None:
        if session_id not in self._sessions:
            raise ValueError(f"record_session({session_id!r}, ...) first")

    # --- committing ------------------------------------------------------------------------

    async def commit(self) -> int:
        """Write everything buffered in ONE transaction; return how many events it made
        durable. Raises ``JournalUnavailable`` (the items stay buffered) if it cannot."""
        executor = self._require_open()
        async with self._lock:
            if self._inflight is not None:  # a cancelled commit's write may still be running
                await asyncio.wait({self._inflight})
            batch, self._pending = self._pending, Batch()
            if not batch:
                return 0
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(executor, self._write, batch)
            self._inflight = future
            future.add_done_callback(partial(self._settle, batch))
            await asyncio.shield(future)  # cancelling the caller does not lose the batch
            return len(batch.events)

    def _settle(self, batch: Batch, future: asyncio.Future[float]) -> None:
        """Bookkeeping once a write ended, whoever still waits for it."""
        self._inflight = None
        error = None if future.cancelled() else future.exception()
        if future.cancelled() or error is not None:
            self._pending = batch.then(self._pending)
            self.healthy = False
            self.last_error = str(error) if error is not None else "commit cancelled"
            self.stats.commit_failures += 1
            waiting = len(self._pending.events)
            log.error("journal %s: commit failed, %d events wait: %s", self.path, waiting, error)
            return
        elapsed = future.result()
        if batch.events:
            self._durable_seq = max(self._durable_seq, batch.events[-1][0])
        stats = self.stats
        stats.commits += 1
        stats.events_committed += len(batch.events)
        stats.snapshots_committed += len(batch.snapshots)
        stats.bytes_committed += batch.payload_bytes()
        stats.last_commit_s = elapsed
        stats.max_commit_s = max(stats.max_commit_s, elapsed)
        stats.total_commit_s += elapsed
        if not self.healthy:
            log.warning("journal %s writable again", self.path)
        self.healthy = True
        self.last_error = None

    def _write(self, batch: Batch) -> float:
        """In the worker: one transaction for the whole batch. Returns its duration."""
        started = time.perf_counter()
        try:
            write_batch(self._connection(), batch, keep_snapshots=self._keep_snapshots)
        except (sqlite3.Error, OSError) as exc:
            raise JournalUnavailable(f"cannot write the journal {self.path}: {exc}") from exc
        return time.perf_counter() - started

    # --- reading ---------------------------------------------------------------------------

    async def recover(self) -> list[RecoveredSession]:
        """Every session: latest snapshot it can load, the events after it, members, pairings.
        Reads what is committed; call it right after ``open()``."""
        return await self._call(lambda: recover_sessions(self._connection()))

    async def events(
        self, session_id: str, after: int = 0
    ) -> AsyncIterator[tuple[int, JournalEvent]]:
        """The session's committed events after position ``after``, in journal order."""
        while True:
            chunk = await self._call(partial(self._fetch, session_id, after))
            for seq, _, event in chunk:
                yield seq, event
            if len(chunk) < CHUNK:
                return
            after = chunk[-1][0]

    def _fetch(self, session_id: str, after: int) -> list[tuple[int, str, JournalEvent]]:
        return fetch_events(self._connection(), session_id, after)

    # --- state -----------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The position of the last event appended (committed or not); 0 when empty."""
        return self._next_seq - 1

    @property
    def durable_seq(self) -> int:
        """The position of the last event on disk: everything up to it survives a crash."""
        return self._durable_seq

    @property
    def pending_events(self) -> int:
        return len(self._pending.events)

    def size_bytes(self) -> int:
        """The file's size on disk, with its write-ahead log."""
        paths = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(p.stat().st_size for p in paths if p.exists())

    def _require_open(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise RuntimeError("the journal is not open")
        return self._executor

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the journal is not open")
        return self._conn

    async def _call(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the worker thread; SQLite's errors become the journal's."""
        executor = self._require_open()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, work)
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise JournalCorrupt(f"journal {self.path}: {exc}") from exc
            raise JournalUnavailable(f"journal {self.path}: {exc}") from exc
        except OSError as exc:
            raise JournalUnavailable(f"journal {self.path}: {exc}") from exc
