"""The night as the page shows it, in a real Chromium: the plots and the notices of its moments."""

from __future__ import annotations

import math
import re

import pytest
from playwright.async_api import Page, ViewportSize, expect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.server.engine import SleeperUpdated
from dreamcommons.server.gateway import DreamServer
from tests.browser.conftest import Pages, screenshot
from tests.browser.test_web_client import http_get, ms, open_dream

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
VIEWPORTS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
BREATH_HZ = 0.25


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/vendor/uPlot.esm.js", "text/javascript; charset=utf-8"),
        ("/static/vendor/uPlot.min.css", "text/css; charset=utf-8"),
        ("/static/plots.js", "text/javascript; charset=utf-8"),
        ("/static/plots.css", "text/css; charset=utf-8"),
    ],
)
async def test_the_plotting_library_is_served_with_the_page(
    base_url: str, path: str, content_type: str
) -> None:
    status, headers, body = await http_get(int(base_url.rsplit(":", 1)[1]), path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert body


async def sized(page: Page, viewport: ViewportSize) -> Page:
    await page.set_viewport_size(viewport)
    return page


def breathe(server: DreamServer, session: str, phases: dict[str, float]) -> None:
    """As if each sleeper's pod said: asleep (N2), breathing at ``BREATH_HZ`` in this phase."""
    engine = server.sessions[session].engine
    now = engine.state.t
    for pid, phase in phases.items():
        engine.apply(
            SleeperUpdated(
                participant=pid, stage=2, stress=0.0, breath_phase=phase, breath_hz=BREATH_HZ, t=now
            )
        )


async def points(page: Page, testid: str) -> int:
    return int(await page.get_by_test_id(testid).first.get_attribute("data-points") or 0)


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_plots_follow_the_night_and_mark_its_moments(
    pages: Pages, base_url: str, dream_server: DreamServer, viewport: ViewportSize
) -> None:
    session = f"night-{viewport['width']}"
    url = f"ws://127.0.0.1:{dream_server.port}/{session}"
    key = dream_server.settings.host_key
    async with (
        DreamClient(url, "Kai") as kai,
        DreamClient(url, "Mia") as mia,
        DreamClient(url, "Zara") as zara,
        DreamClient(url, "Vivienne", role="host", key=key) as host,
    ):
        for sleeper in (kai, mia, zara):
            await sleeper.share(None, show_stage=True)
        page = await sized(await pages.blank(), viewport)
        await page.goto(f"{base_url}/watch/{session}")
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            "connected", timeout=ms(10)
        )
        plots = page.get_by_test_id("plots")
        await expect(plots.get_by_test_id("coherence-plot").locator("canvas")).to_be_attached(
            timeout=ms(10)
        )
        await expect(plots.get_by_test_id("mood-plot").locator("canvas")).to_be_attached()
        first = await points(page, "coherence-plot")
        await page.wait_for_function(
            f"() => Number(document.querySelector('[data-testid=coherence-plot]')"
            f".dataset.points) > {first}",
            timeout=ms(10),
        )
        assert await points(page, "mood-plot") > first

        # Three sleepers a third of a breath apart: no common rhythm, and the scene fractures.
        ids = [kai.participant, mia.participant, zara.participant]
        breathe(dream_server, session, {pid: i * math.tau / 3 for i, pid in enumerate(ids)})
        notice = page.get_by_test_id("moments").locator('[data-kind="fracture"]')
        await expect(notice).to_contain_text("fractured", timeout=ms(10))
        coherence = page.get_by_test_id("coherence-plot")
        await expect(coherence).to_have_attribute("data-markers", re.compile(r"\bfracture\b"))
        strips = page.get_by_test_id("hypnogram")
        await expect(strips).to_have_count(3)  # the watch page shows every sleeper who shares
        await expect(strips.first).to_contain_text("light")

        await host.host("harmonize")
        await expect(
            page.get_by_test_id("moments").locator('[data-kind="harmonize"]')
        ).to_be_visible(timeout=ms(10))
        breathe(dream_server, session, dict.fromkeys(ids, 0.0))  # in step: it heals
        await expect(coherence).to_have_attribute(
            "data-markers", re.compile(r"fracture.*harmonize.*heal"), timeout=ms(15)
        )
        await screenshot(page, f"plots-{viewport['width']}")


async def test_ones_own_page_shows_only_ones_own_stages(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    session = "own-night"
    url = f"ws://127.0.0.1:{dream_server.port}/{session}"
    async with DreamClient(url, "Kai") as kai:
        await kai.share(None, show_stage=True)
        page = await open_dream(pages, f"{base_url}/s/{session}?name=Lyra")
        members = dream_server.sessions[session].members
        lyra = next(m.pid for m in members if m.name == "Lyra")
        await page.get_by_test_id("stage-input").check()
        breathe(dream_server, session, {lyra: 0.0, kai.participant: 0.0})
        strips = page.get_by_test_id("hypnogram")
        await expect(strips).to_have_count(1, timeout=ms(10))
        await expect(strips).to_have_attribute("data-sleeper", lyra)
        await expect(page.get_by_test_id("participants")).to_contain_text("light")
