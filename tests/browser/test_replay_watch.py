"""A journaled session replayed to the watch page: the browser sees it as it was recorded."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.async_api import expect

from dreamcommons.server.journal import journal_sessions
from dreamcommons.server.replay_server import ReplayServer
from tests.browser.conftest import Pages, screenshot
from tests.conftest import within
from tests.integration.test_journal_replay import record_a_session

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

MS = 1000


async def test_the_watch_page_plays_a_recorded_session(pages: Pages, tmp_path: Path) -> None:
    journal = tmp_path / "dreams.sqlite"
    await record_a_session(journal)
    (info,) = journal_sessions(journal)
    venue = info.preset()
    replay = ReplayServer(journal, info.id, "127.0.0.1", 0, speed=math.inf, title=venue.title)
    await replay.start()
    try:
        watch = await pages.open(f"http://127.0.0.1:{replay.port}/watch/{info.id}")
        state = watch.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=within(10) * MS)
        await expect(watch.get_by_test_id("replay-badge")).to_have_text(
            "replay of a recorded night"
        )
        await expect(watch.get_by_test_id("title")).to_have_text(venue.title)
        for motif in ("moon", "river", "owl", "tide"):
            locator = watch.locator(f'li[data-motif="{motif}"]')
            await expect(locator).to_be_attached(timeout=within(10) * MS)
        whispers = watch.get_by_test_id("whispers")
        await expect(whispers).to_contain_text("the cocoons pulse together")
        await screenshot(watch, "replay-watch")
    finally:
        await replay.close()
