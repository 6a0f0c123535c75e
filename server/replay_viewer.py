"""One connection's own playback of a served replay: where in the night it is, how fast its
session time runs (0: paused), and the deltas sent at that pace.

The night is read on the replay server's one worker thread, a chunk of ticks ahead of the
pacing; states read but not yet sent wait in ``_ahead``. Every read of a viewer appends to
``_ahead`` in the worker's order, so a read still running when the pace changes is not lost,
and a seek (queued behind it on the same thread) clears what it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from dreamcommons.contracts.protocol import Delta, DreamscapeState
from dreamcommons.server.journal.keyframes import IndexedNight, NightCursor

READ_AHEAD_TICKS = 32

DeltaSink = Callable[[Delta], Awaitable[None]]


class ReplayViewer:
    """A watcher's place in the night; ``start`` it, steer it with ``seek``/``set_speed``."""

    def __init__(
        self, night: IndexedNight, worker: Executor, send: DeltaSink, speed: float
    ) -> None:
        self._night = night
        self._worker = worker
        self._send = send
        self.speed = speed  # math.inf: as fast as the connection takes it
        self._cursor: NightCursor | None = None
        self._ahead: deque[tuple[DreamscapeState, Delta]] = deque()
        self._playing: asyncio.Task[None] | None = None
        self.state: DreamscapeState | None = None

    async def place(self, at: float) -> DreamscapeState:
        """Go to ``at`` seconds of session time (paused until ``start``); the state there."""
        await self.stop()
        loop = asyncio.get_running_loop()
        self._cursor = await loop.run_in_executor(self._worker, self._night.enter, at)
        self._ahead.clear()  # what earlier reads left, all done: the worker ran them first
        self.state = self._cursor.state
        return self.state

    def start(self) -> None:
        """Play on from the current state at ``speed`` (nothing to do paused or at the end)."""
        if self._cursor is None or self.state is None:
            raise RuntimeError("place() the viewer first")
        if self.speed > 0.0 and self._playing is None:
            self._playing = asyncio.create_task(self._play(self._cursor, self.state.t))

    async def stop(self) -> None:
        playing, self._playing = self._playing, None
        if playing is not None:
            playing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing

    async def _play(self, cursor: NightCursor, from_t: float) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            if not self._ahead:
                await loop.run_in_executor(self._worker, self._read, cursor)
                if not self._ahead:
                    return  # the night is over: the viewer stays at its end
            state, delta = self._ahead[0]
            if not math.isinf(self.speed):
                delay = started + (state.t - from_t) / self.speed - loop.time()
                if delay > 0.0:
                    await asyncio.sleep(delay)
            self._ahead.popleft()
            self.state = state
            await self._send(delta)

    def _read(self, cursor: NightCursor) -> None:
        self._ahead.extend(cursor.advance(READ_AHEAD_TICKS))
