"""The pages where people are, in a real Chromium: a phone (390x844) and a desktop (1280x800),
the host's console, the big screen and a refusal."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.browser.conftest import DESKTOP, PHONE, Pages, overflows_sideways, screenshot
from tests.browser.test_web_client import contribute, ms

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
# What a person could type into or press; the big screen has none of it but full screen.
CONTROLS = "input, select, textarea, form, button:not([data-testid=fullscreen])"


async def open_dream(pages: Pages, url: str, viewport: ViewportSize = DESKTOP) -> Page:
    page = await pages.open(url, viewport)
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    return page


async def in_first_screen(page: Page, locator: Locator) -> bool:
    """Whether the element is shown whole inside the viewport, without scrolling."""
    box = await locator.bounding_box()
    size = page.viewport_size
    assert box is not None, "not shown"
    assert size is not None
    scrolled = await page.evaluate("[window.scrollX, window.scrollY]")
    return (
        scrolled == [0, 0]
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


# --- the phone ----------------------------------------------------------------------------


async def test_the_phone_shows_status_dreamscape_drawers_and_composer_in_one_screen(
    pages: Pages, base_url: str
) -> None:
    page = await open_dream(pages, f"{base_url}/s/pocket?name=Lyra", PHONE)
    await contribute(page, "lantern")
    await expect(page.locator('li[data-motif="lantern"]')).to_be_visible(timeout=ms(10))
    assert not await overflows_sideways(page)
    for shown in ("scene", "connection-state", "motif-input", "whisper-input", "dreamscape"):
        assert await in_first_screen(page, page.get_by_test_id(shown)), shown
    for button in ("Dream it", "Whisper"):
        assert await in_first_screen(page, page.get_by_role("button", name=button)), button
    await expect(page.get_by_test_id("scene")).to_contain_text("coherence")

    # The drawers open one at a time under the dreamscape, never over it.
    canvas = await page.get_by_test_id("dreamscape").bounding_box()
    await page.get_by_role("tab", name="Whispers").click()
    await expect(page.get_by_test_id("whispers").locator("xpath=..")).to_be_visible()
    await expect(page.get_by_test_id("motif-list")).to_be_hidden()
    drawer = await page.locator("#drawer-whispers").bounding_box()
    assert canvas is not None
    assert drawer is not None
    assert drawer["y"] >= canvas["y"] + canvas["height"] - 1
    await page.get_by_role("tab", name="Motifs").click()
    await expect(page.get_by_test_id("motif-list")).to_be_visible()
    await screenshot(page, "phone")

    # Touch targets: everything shown that one presses or types into is 44 px high at least.
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button, select, input:not([type=range])'
                + ':not([type=checkbox]):not([type=radio])')]
            .filter((e) => e.getClientRects().length > 0)
            .filter((e) => e.getBoundingClientRect().height < 44)
            .map((e) => e.outerHTML.slice(0, 80))"""
    )
    assert small == []


async def test_the_phones_composer_keeps_the_feelings_one_tap_away(
    pages: Pages, base_url: str
) -> None:
    page = await open_dream(pages, f"{base_url}/s/pocket-2?name=Lyra", PHONE)
    share = page.get_by_test_id("share-input")
    await expect(share).to_be_hidden()
    await page.get_by_test_id("more-toggle").click()
    await expect(share).to_be_visible()
    await expect(page.get_by_test_id("more-toggle")).to_have_attribute("aria-expanded", "true")
    assert not await overflows_sideways(page)


# --- the host -----------------------------------------------------------------------------


@SIZES
async def test_the_host_controls_come_first(
    pages: Pages, base_url: str, dream_server: DreamServer, viewport: ViewportSize
) -> None:
    key = dream_server.settings.host_key
    host = await open_dream(pages, f"{base_url}/host/first?name=Vivienne#key={key}", viewport)
    panel = host.get_by_test_id("host-panel")
    for action in ("Start", "Pause", "Next phase", "Harmonize", "End"):
        assert await in_first_screen(host, panel.get_by_role("button", name=action)), action
    assert await in_first_screen(host, host.get_by_test_id("copy-link"))
    assert await in_first_screen(host, host.get_by_test_id("join-qr"))
    assert not await overflows_sideways(host)


async def test_the_host_copies_the_join_link_and_shows_it_as_a_qr_code(pages: Pages) -> None:
    async with DreamServer(ServerSettings(port=0), load_venue("sleep-commons")) as private:
        base = f"http://127.0.0.1:{private.port}"
        key = private.gatekeeper.host_secret("salon")
        page = await pages.open(
            f"{base}/host/salon#key={key}", permissions=("clipboard-read", "clipboard-write")
        )
        code = private.gatekeeper.join_code("salon")
        link = f"{base}/s/salon?code={code}"
        await expect(page.get_by_test_id("join-link")).to_have_text(link, timeout=ms(10))
        # A version-3 code or larger (29+ modules) holds a link of this length at level M.
        qr = page.get_by_test_id("join-qr")
        modules = int(await qr.get_attribute("data-modules") or 0)
        assert modules >= 29
        assert await qr.evaluate("(c) => c.width") >= modules
        await page.get_by_test_id("copy-link").click()
        await expect(page.get_by_test_id("copy-result")).to_have_text("copied")
        assert await page.evaluate("navigator.clipboard.readText()") == link


# --- the big screen -----------------------------------------------------------------------


@SIZES
async def test_the_big_screen_shows_the_dream_and_no_controls(
    pages: Pages, base_url: str, viewport: ViewportSize
) -> None:
    dreamer = await open_dream(pages, f"{base_url}/s/venue?name=Lyra")
    await contribute(dreamer, "tide")
    await dreamer.get_by_test_id("whisper-input").fill("the tide turns")
    await dreamer.get_by_test_id("whisper-form").get_by_role("button").click()
    watch = await open_dream(pages, f"{base_url}/watch/venue", viewport)
    await expect(watch.get_by_test_id("whispers")).to_contain_text("the tide turns", timeout=ms(10))
    await expect(watch.get_by_test_id("whispers")).to_be_visible()
    await expect(watch.get_by_test_id("title")).to_have_text("The Sleep Commons")
    await expect(watch.get_by_test_id("scene")).to_contain_text("coherence")
    assert await watch.locator(CONTROLS).count() == 0
    assert await watch.get_by_role("tab").count() == 0
    canvas = await watch.get_by_test_id("dreamscape").bounding_box()
    assert canvas is not None
    assert (canvas["width"], canvas["height"]) == (viewport["width"], viewport["height"])
    assert not await overflows_sideways(watch)
    await screenshot(watch, f"big-screen-{viewport['width']}")


# --- refusals and wrong turns -------------------------------------------------------------


@pytest.mark.parametrize("given", ["&code=AAAA-BBBB", ""], ids=["wrong-code", "no-code"])
async def test_a_refused_code_offers_a_retry_that_joins(pages: Pages, given: str) -> None:
    async with DreamServer(ServerSettings(port=0), load_venue("sleep-commons")) as private:
        page = await pages.open(f"http://127.0.0.1:{private.port}/s/quiet?name=Eve{given}", PHONE)
        retry = page.get_by_test_id("retry-form")
        await expect(retry).to_be_visible(timeout=ms(10))
        await expect(page.get_by_test_id("connection-state")).to_have_text("refused")
        await expect(page.get_by_test_id("retry-reason")).to_contain_text(
            re.compile("invitation_required|bad_invitation")
        )
        await expect(page.get_by_test_id("motif-input")).to_be_disabled()
        await expect(page.get_by_test_id("motif-input")).to_be_hidden()
        await screenshot(page, f"refused{given[:5]}")

        code = private.gatekeeper.join_code("quiet")
        await page.get_by_test_id("retry-code").fill(f"{code[:4].lower()}-{code[4:]}")
        await retry.get_by_role("button", name="Try again").click()
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            "connected", timeout=ms(10)
        )
        assert "name=Eve" in page.url
        await expect(page.get_by_test_id("retry-form")).to_have_count(0)
        await expect(page.get_by_test_id("motif-input")).to_be_enabled()
