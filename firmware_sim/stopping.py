"""Running in the background until asked to stop, and stopping politely: let the task finish,
then cancel it past a grace time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine

from dreamcommons.contracts.lifecycle import StartStop


async def finish_or_cancel(task: asyncio.Task[None] | None, grace_s: float) -> None:
    """Wait up to ``grace_s`` for ``task`` to end by itself (it was asked to stop), then
    cancel it; either way it has ended when this returns."""
    if task is None:
        return
    try:
        async with asyncio.timeout(grace_s):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class BackgroundRun(StartStop):
    """A device or a fleet: ``start()`` runs it in a task until ``stop()`` (or the end of an
    ``async with``); ``run()`` itself returns once ``request_stop()`` was called."""

    grace_s = 5.0

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _launch(self, work: Coroutine[object, object, None], name: str) -> None:
        if self._task is not None:
            work.close()
            raise RuntimeError(f"{name} already started")
        self._task = asyncio.create_task(work, name=name)

    def request_stop(self) -> None:
        """Ask it to stop cleanly; ``run()`` returns soon after."""
        self._stopping.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop cleanly, or cancel after ``grace_s`` seconds (the class's ``grace_s``)."""
        self.request_stop()
        task, self._task = self._task, None
        await finish_or_cancel(task, self.grace_s if grace_s is None else grace_s)
