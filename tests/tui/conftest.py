"""The terminal client's test helpers: the app run headless by Textual's own harness, and waiting.

The app, the dream server and the peers share the test's event loop, so the app's link,
the server and the peers' sockets all really talk over loopback while the test drives keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.panels import SceneMeters
from tests.waiting import eventually

SIZE = (120, 36)


async def until(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``seconds`` (scaled)."""
    try:
        await eventually(condition, "true", seconds, pause=lambda: pilot.pause(0.02))
    except AssertionError as failure:
        app = pilot.app
        seen = (app.statuses[-3:], app.notes[-3:]) if isinstance(app, DreamApp) else ()
        raise AssertionError(f"{failure}; status and notes: {seen}") from None


async def joined(pilot: Pilot[None], app: DreamApp) -> None:
    """Wait until the app's link has joined (or resumed) its session."""
    await until(pilot, lambda: app.link.dream is not None)


def shown(app: DreamApp, selector: str) -> str:
    """The plain text a ``Static`` (or the scene's meters) shows right now."""
    widget = app.query_one(selector)
    if isinstance(widget, SceneMeters):
        return widget.text().plain
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


@contextlib.asynccontextmanager
async def running(
    app: DreamApp, *, join: bool = True, size: tuple[int, int] = SIZE
) -> AsyncIterator[Pilot[None]]:
    """Run ``app`` headless (in the test's own task, where Textual wants it) in a terminal of
    ``size`` (columns, rows), joined first."""
    async with app.run_test(size=size) as pilot:
        if join:
            await joined(pilot, app)
        yield pilot


async def type_line(pilot: Pilot[None], line: str) -> None:
    """Type ``line`` into the command input, key by key, and press Enter."""
    await pilot.press(*line, "enter")
