"""A journaled session replayed to the watch page: the browser sees it as it was recorded."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from playwright.async_api import expect

from dreamcommons.server.engine import DreamEngine
from dreamcommons.server.journal import journal_sessions, play
from dreamcommons.server.replay_server import ReplayServer
from tests.browser.conftest import Pages, screenshot
from tests.conftest import within
from tests.integration.test_journal_replay import record_a_session

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def test_the_watch_page_plays_a_recorded_session(pages: Pages, tmp_path: Path) -> None:
    journal = tmp_path / "dreams.sqlite"
    await record_a_session(journal)
    (info,) = journal_sessions(journal)
    venue = info.preset()
    initial = DreamEngine(venue, info.id).state
    replay = ReplayServer(initial, venue.tick_hz, "127.0.0.1", 0, title=venue.title)
    await replay.start()
    try:
        watch = await pages.open(f"http://127.0.0.1:{replay.port}/watch/{info.id}")
        state = watch.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=within(10) * 1000)
        await expect(watch.get_by_test_id("replay-badge")).to_have_text(
            "replay of a recorded night"
        )
        await expect(watch.get_by_test_id("title")).to_have_text(venue.title)
        async with asyncio.timeout(within(20)):
            await play(journal, info.id, math.inf, replay.show)
        for motif in ("moon", "river", "owl", "tide"):
            locator = watch.locator(f'li[data-motif="{motif}"]')
            await expect(locator).to_be_attached(timeout=within(10) * 1000)
        whispers = watch.get_by_test_id("whispers")
        await expect(whispers).to_contain_text("the cocoons pulse together")
        await screenshot(watch, "replay-watch")
    finally:
        await replay.close()
