"""Stopping a background task politely: let it finish, then cancel it past a grace time."""

from __future__ import annotations

import asyncio
import contextlib


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
