"""Waiting in tests (and in bench/): time-outs in a unit a slow machine can stretch, and polling.

Wait for an event or a message where there is one; ``eventually`` is for state that announces
no change of its own (a registry, counters, an HTTP endpoint), checked as the event loop turns.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable

# Every network wait is a multiple of this, so a slow machine can stretch them all at once.
TIMEOUT_UNIT = float(os.environ.get("DREAMCOMMONS_TEST_TIMEOUT_UNIT", "1.0"))


def within(seconds: float) -> float:
    return seconds * TIMEOUT_UNIT


async def eventually(
    condition: Callable[[], object],
    what: str = "the condition",
    seconds: float = 5.0,
    *,
    every: float = 0.02,
    pause: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Return once ``condition()`` is true (an awaitable it returns is awaited first: a blocking
    check can run in ``asyncio.to_thread``); between checks ``pause()`` or ``every`` seconds.
    ``AssertionError`` naming ``what`` after ``seconds`` (scaled by ``within``)."""
    try:
        async with asyncio.timeout(within(seconds)):
            while True:
                held = condition()
                if inspect.isawaitable(held):
                    held = await held
                if held:
                    return
                await (pause() if pause is not None else asyncio.sleep(every))
    except TimeoutError:
        raise AssertionError(f"not {what} within {seconds} s") from None
