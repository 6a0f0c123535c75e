"""A journaled session replayed to the watch page: the browser sees it as it was recorded,
and a replay (only a replay) has a scrubber, play/pause and a speed control."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, ViewportSize, expect

from dreamcommons.server.journal import journal_sessions
from dreamcommons.server.replay_server import ReplayServer
from tests.browser.conftest import DESKTOP, PHONE, Pages, overflows_sideways, screenshot
from tests.conftest import within
from tests.integration.test_journal_replay import record_a_session
from tests.recorded_nights import SESSION, write_night

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

NIGHT_S = 300.0
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


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def long_replay(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReplayServer]:
    journal = tmp_path_factory.mktemp("night") / "night.sqlite"
    await write_night(journal, NIGHT_S)
    replay = ReplayServer(journal, SESSION, "127.0.0.1", 0, speed=1.0)
    await replay.start()
    try:
        yield replay
    finally:
        await replay.close()


async def shown_t(page: Page) -> float:
    return float(await page.get_by_test_id("replay-scrubber").input_value())


async def mood_points(page: Page) -> int:
    return int(await page.get_by_test_id("mood-plot").get_attribute("data-points") or 0)


async def test_only_a_replay_has_the_playback_controls(pages: Pages, base_url: str) -> None:
    live = await pages.open(f"{base_url}/watch/commons")
    await expect(live.get_by_test_id("connection-state")).to_have_text(
        "connected", timeout=within(10) * MS
    )
    await expect(live.locator("body")).to_have_attribute("data-replay", "false")  # it has asked
    assert await live.get_by_test_id("replay-controls").count() == 0


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_scrubber_moves_the_night_and_the_plots_start_again(
    pages: Pages, long_replay: ReplayServer, viewport: ViewportSize
) -> None:
    page = await pages.open(f"http://127.0.0.1:{long_replay.port}/watch/{SESSION}", viewport)
    controls = page.get_by_test_id("replay-controls")
    await expect(controls).to_be_visible(timeout=within(10) * MS)
    scrubber = page.get_by_test_id("replay-scrubber")
    await expect(scrubber).to_have_attribute("max", "300")
    await expect(page.get_by_test_id("replay-speed")).to_have_value("1")
    for control in ("replay-play", "replay-scrubber", "replay-speed"):
        box = await page.get_by_test_id(control).bounding_box()
        assert box is not None
        assert box["height"] >= 44, f"{control} is {box['height']} px high"
        assert box["x"] + box["width"] <= viewport["width"], f"{control} is cut off"
    assert not await overflows_sideways(page)

    await scrubber.fill("150")  # where the scrubber is let go, the night goes
    time = page.get_by_test_id("replay-time")
    await expect(time).to_contain_text("2:3", timeout=within(10) * MS)
    await expect(time).to_contain_text("/ 5:00")
    assert 150.0 <= await shown_t(page) < 250.0
    await page.get_by_test_id("replay-speed").select_option("60")
    await page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=mood-plot]').dataset.points) > 20",
        timeout=within(15) * MS,
    )
    await page.get_by_test_id("replay-play").click()  # paused: the plots stay as they are
    grown = await mood_points(page)
    await scrubber.fill("30")
    await page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=mood-plot]').dataset.points) < {grown}",
        timeout=within(10) * MS,
    )
    assert await shown_t(page) == 30.0
    await expect(time).to_contain_text("0:30 /")
    await page.get_by_test_id("replay-play").click()  # playing again, at 60x
    await page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=mood-plot]').dataset.points) > 20",
        timeout=within(15) * MS,
    )
    await page.get_by_test_id("replay-play").click()  # paused again: a dip in the plots stays
    grown = await mood_points(page)
    # a finger still on the scrubber: the night follows it before it is let go
    await scrubber.evaluate(
        "(s) => { s.value = '10'; s.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    await page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=mood-plot]').dataset.points) < {grown}",
        timeout=within(10) * MS,
    )
    await screenshot(page, f"replay-scrubber-{viewport['width']}")


async def test_the_scrubber_stays_where_it_was_let_go_until_the_night_is_there(
    pages: Pages, base_url: str
) -> None:
    """The deltas still on their way come from where the night was: they do not pull the
    scrubber back before the snapshots that answer its moves have come."""
    page = await pages.open(f"{base_url}/watch/commons")
    outcome = await page.evaluate(
        """async () => {
            const { ReplayControls } = await import('/static/replay.js');
            const moves = [];
            const controls = new ReplayControls((move) => moves.push(move));
            controls.show(300, 1);
            const scrubber = controls.scrubber;
            const shown = () => [Number(scrubber.value), controls.time.textContent];
            scrubber.value = '150';
            scrubber.dispatchEvent(new Event('input', { bubbles: true }));
            scrubber.dispatchEvent(new Event('change', { bubbles: true }));
            const answers = [controls.update({ t: 3.0 }, 'delta')];
            const beforeAnswer = shown();
            answers.push(controls.update({ t: 150.0 }, 'snapshot'));  // the move while dragging
            answers.push(controls.update({ t: 4.0 }, 'delta'));
            const oneAnswered = shown();
            answers.push(controls.update({ t: 150.0 }, 'snapshot'));  // where it was let go
            answers.push(controls.update({ t: 151.0 }, 'delta'));
            answers.push(controls.update({ t: 151.0 }, 'snapshot'));  // a resync: no move's
            return { moves, beforeAnswer, oneAnswered, answered: shown(), answers };
        }"""
    )
    assert outcome["moves"] == [{"at": 150, "speed": None}, {"at": 150, "speed": None}]
    assert outcome["beforeAnswer"] == [150, "2:30 / 5:00"]
    assert outcome["oneAnswered"] == [150, "2:30 / 5:00"]
    assert outcome["answered"] == [151, "2:31 / 5:00"]
    assert outcome["answers"] == [False, True, False, True, False, False]


async def test_the_speed_control_sets_the_pace_from_where_play_resumes(
    pages: Pages, long_replay: ReplayServer
) -> None:
    page = await pages.open(f"http://127.0.0.1:{long_replay.port}/watch/{SESSION}")
    await expect(page.get_by_test_id("replay-controls")).to_be_visible(timeout=within(10) * MS)
    play = page.get_by_test_id("replay-play")
    await play.click()  # paused at the start
    await expect(play).to_have_text("Play")
    await expect(play).to_have_attribute("aria-pressed", "true")
    await page.get_by_test_id("replay-scrubber").fill("100")
    await expect(page.get_by_test_id("replay-time")).to_contain_text("1:40 /")
    held = await shown_t(page)
    await page.get_by_test_id("replay-speed").select_option("60")  # chosen while paused
    assert await shown_t(page) == held
    await play.click()
    # at 1x the next 3 minutes of the night would take 3 minutes; at 60x, 3 seconds
    await page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=replay-scrubber]').value) > 280",
        timeout=within(20) * MS,
    )
    await expect(play).to_have_text("Pause")
