"""Browser tests' fixtures: Debian's Chromium, headless, driven by Playwright's async API.

The browser lives for the whole module, so the tests, the browser and the dream server all
share the module's event loop (``loop_scope="module"``). Each page opens in a context of its
own (its own sessionStorage, like a separate person) and fails the test if it throws or
logs an error, which is also how a Content-Security-Policy violation shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
)

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings

CHROMIUM = Path(os.environ.get("DREAMCOMMONS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# What a page may log as an error without failing the test: a refused WebSocket connection,
# which is the point of the test that stops the server.
_EXPECTED_CONSOLE_ERRORS = re.compile(r"WebSocket connection to .* failed")


def require_chromium() -> None:
    """Fail (never skip) when Chromium is missing: a skipped browser suite hides a broken UI."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM}, and it is missing: "
            "run `make test` as root (it installs it), or `sudo apt-get install chromium` "
            "(or point DREAMCOMMONS_CHROMIUM at a Chromium binary)",
            pytrace=False,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def dream_server() -> AsyncIterator[DreamServer]:
    """The shared fixture's server, started in the module's loop where the browser lives."""
    settings = ServerSettings(port=0, max_errors=4, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture
def base_url(dream_server: DreamServer) -> str:
    return f"http://127.0.0.1:{dream_server.port}"


DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


class Pages:
    """Opens pages, each in its own browser context (a desktop's window unless a ``viewport``
    is given), and remembers what went wrong in them."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []
        self.expected: list[re.Pattern[str]] = [_EXPECTED_CONSOLE_ERRORS]  # a test may add

    async def open(
        self, url: str, viewport: ViewportSize = DESKTOP, permissions: Sequence[str] = ()
    ) -> Page:
        page = await self.blank(viewport, permissions)
        await page.goto(url)
        return page

    async def blank(
        self, viewport: ViewportSize = DESKTOP, permissions: Sequence[str] = ()
    ) -> Page:
        """A page that has loaded nothing yet (to route its traffic before it does)."""
        context = await self.browser.new_context(viewport=viewport, permissions=list(permissions))
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))
        return page

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        expected = any(pattern.search(message.text) for pattern in self.expected)
        if message.type == "error" and not expected:
            self.problems.append(f"{page.url}: console error: {message.text}")

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def pages(browser: Browser) -> AsyncIterator[Pages]:
    opened = Pages(browser)
    try:
        yield opened
    finally:
        await opened.close()
    assert not opened.problems, "the pages reported errors:\n" + "\n".join(opened.problems)


async def overflows_sideways(page: Page) -> bool:
    """Whether the page is wider than its window (it scrolls sideways, which a phone hates)."""
    width: int = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width > 0


async def screenshot(page: Page, name: str) -> Path:
    """Save the page under test-artifacts/screenshots/, which CI keeps."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
