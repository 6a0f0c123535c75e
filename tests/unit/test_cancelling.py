"""Stopping for sure: a cancellation a wait dropped is raised again, and a task that did not
stop when cancelled is cancelled again rather than waited for for ever."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from dreamcommons.server.cancelling import cancel_all, raise_if_cancelling


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended = asyncio.Event()

    async def deaf() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as a swallowing wait_for does
            await asyncio.sleep(3600)
        try:
            await asyncio.sleep(3600)
        finally:
            ended.set()

    task = asyncio.get_running_loop().create_task(deaf(), name="deaf")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="dreamcommons.server.cancelling"):
        await cancel_all([task], again_after_s=0.05)
    assert ended.is_set()
    assert task.cancelled()
    assert "deaf did not stop when cancelled" in caplog.text


async def test_tasks_that_stop_when_cancelled_are_cancelled_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = [asyncio.get_running_loop().create_task(asyncio.sleep(3600)) for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="dreamcommons.server.cancelling"):
        await cancel_all(tasks, again_after_s=0.05)
    assert all(task.cancelled() for task in tasks)
    assert caplog.text == ""


async def test_a_dropped_cancellation_is_raised_before_the_task_waits_on() -> None:
    reached = []

    async def listener() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # dropped
            await asyncio.sleep(3600)
        raise_if_cancelling()
        reached.append("listening on")

    task = asyncio.get_running_loop().create_task(listener())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reached == []
