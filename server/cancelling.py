"""Stopping tasks for sure. Python 3.11's ``asyncio.wait_for`` drops a cancellation that comes
just as its answer does (a publish's ack, a subscription's): the wait returns the answer and
the task runs on, unstoppable, while whoever cancelled it waits for ever. Python 3.12 fixed
``wait_for``; libraries on 3.11 still use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

AGAIN_AFTER_S = 1.0


def raise_if_cancelling() -> None:
    """Raise the cancellation a swallowing wait dropped, before the task waits on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_all(
    tasks: Iterable[asyncio.Task[None]], again_after_s: float = AGAIN_AFTER_S
) -> None:
    """Cancel ``tasks`` and wait until they have all ended, cancelling again those still
    running ``again_after_s`` later (and saying so)."""
    running = list(tasks)
    while running:
        for task in running:
            task.cancel()
        _, pending = await asyncio.wait(running, timeout=again_after_s)
        for task in pending:
            log.warning("%s did not stop when cancelled: cancelled again", task.get_name())
        running = list(pending)
