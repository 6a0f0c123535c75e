"""Make the README's screenshots: docs/screenshots/terminal.svg, docs/screenshots/browser.png
and docs/screenshots/phone.png.

A real dream server runs in this process with a few real clients that contribute and whisper;
then the Textual app is run headless and exports its screen as SVG, and Debian's Chromium
(driven by Playwright) photographs the browser client's dreamscape page on a desktop
(1280x800) and on a phone (390x844).

    .venv/bin/python scripts/screenshots.py

``--join URL`` makes all three from a session already running: a ``make demo``'s
(``ws://127.0.0.1:PORT/demo``), whose sleepers give the coherence sparkline and the page's plots
a night to draw (the pages stay open ``--dwell`` seconds first, 45 by default). The README's
are made so, after the demo's first minute (fracture, harmonizing, healing):

    .venv/bin/python scripts/screenshots.py --join ws://127.0.0.1:PORT/demo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.field import DreamField
from dreamcommons.client.tui.trend import CoherenceTrend
from dreamcommons.contracts.protocol import Role
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("DREAMCOMMONS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
PEERS: tuple[tuple[str, Role, tuple[tuple[str, float, float], ...]], ...] = (
    ("Zara", "dreamer", (("river", 0.9, 0.5), ("owl", 0.6, -0.2))),
    ("Kai", "dreamer", (("forest", 0.8, 0.6), ("rain", 0.5, 0.1))),
    ("Mia", "waker", (("hearth", 0.7, 0.7),)),
)
SETTINGS = ServerSettings(port=0, open_sessions=("commons",))  # nobody needs a code to look
WHISPERS = (("Zara", "I can hear the river from here"), ("Mia", "breathe with me"))


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with DreamServer(SETTINGS, load_venue("sleep-commons")) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        async with contextlib.AsyncExitStack() as stack:
            peers = [
                await stack.enter_async_context(DreamClient(url, name, role=role))
                for name, role, _ in PEERS
            ]
            for _ in range(3):  # a motif raised again grows: the field is livelier
                for peer, (_, _, motifs) in zip(peers, PEERS, strict=True):
                    for motif, intensity, valence in motifs:
                        await peer.contribute(motif, intensity=intensity, valence=valence)
            by_name = {peer.name: peer for peer in peers}
            for name, text in WHISPERS:
                await by_name[name].whisper(text)
            await terminal(url)
            await browser(f"http://127.0.0.1:{server.port}/s/commons?name=Tariq")


async def from_session(url: str, dwell: float) -> None:
    """All three screenshots of the running session at ``url`` (``ws://HOST:PORT/SESSION``)."""
    base, _, session = url.removeprefix("ws://").rpartition("/")
    await browser(f"http://{base}/s/{session}?name=Tariq", dwell)
    await terminal(url, others=(), trend=500)


async def terminal(url: str, others: tuple[str, ...] = ("river",), trend: int = 0) -> None:
    """The app at 80x24 once its motifs and ``others`` show and the sparkline has ``trend``
    values (states with a coherence)."""
    app = DreamApp(url, "Lyra")
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
            async with asyncio.timeout(seconds):
                while not condition():
                    await pilot.pause(0.05)

        await until(lambda: app.link.dream is not None)
        for _ in range(3):
            await pilot.press(*"moon 0.9", "enter")
        await pilot.press("f4", "f4")  # calm, then tender
        await pilot.press(*"lantern", "enter")
        field = app.query_one(DreamField)
        await until(lambda: all(name in field.text() for name in ("moon", "lantern", *others)))
        history = app.query_one(CoherenceTrend).history
        await until(lambda: len(history.values) >= trend, seconds=10.0 + trend / 5)
        await pilot.press(*"/w the lanterns hum")
        await pilot.pause(0.3)  # let the motifs settle where the last tick put them
        path = app.save_screenshot(filename="terminal.svg", path=str(OUT))
    print(f"wrote {Path(path).relative_to(ROOT)}")


async def browser(page_url: str, dwell: float = 0.0) -> None:
    """The dreamscape page at 1280x800 and at 390x844, each photographed ``dwell`` seconds after
    it joined (the plots draw the night since the page joined)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desktop = await chromium.new_page(viewport={"width": 1280, "height": 800})
            await dream_in(desktop, page_url, ("lantern", "garden"))
            phone = await chromium.new_page(viewport={"width": 390, "height": 844})
            await dream_in(phone, page_url.replace("Tariq", "Noor"), ("moon",))
            await desktop.wait_for_timeout(dwell * 1000)
            await save(desktop, "browser.png")
            await save(phone, "phone.png")
        finally:
            await chromium.close()


async def dream_in(page: Page, page_url: str, motifs: tuple[str, ...]) -> None:
    await page.goto(page_url)
    connection = page.get_by_test_id("connection-state")
    await expect(connection).to_have_text("connected", timeout=10_000)
    for motif in motifs:
        await page.get_by_test_id("motif-input").fill(motif)
        await page.get_by_test_id("contribute-form").get_by_role("button", name="Dream it").click()
        motif_item = page.locator(f'li[data-motif="{motif}"]')
        await expect(motif_item).to_be_attached(timeout=10_000)
    await page.wait_for_timeout(600)  # one smooth animation step between ticks


async def save(page: Page, name: str) -> None:
    path = OUT / name
    await page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--join", metavar="URL", help="all three from the session at URL")
    parser.add_argument(
        "--dwell", type=float, default=45.0, help="with --join: seconds the pages watch first"
    )
    options = parser.parse_args()
    if options.join is None:
        asyncio.run(main())
    else:
        asyncio.run(from_session(options.join, options.dwell))
