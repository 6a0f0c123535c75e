"""The pages around the dream, in a real Chromium: the join page offers the sessions a server
hosts (``/sessions.json``), and a wrong address gets a page that leads back to it."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.browser.conftest import PHONE, Pages, overflows_sideways
from tests.browser.test_web_client import http_get, ms

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def test_an_unknown_address_gets_a_page_that_leads_to_the_join_page(
    pages: Pages, base_url: str
) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    status, headers, body = await http_get(port, "/watch/commons/x")
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b'href="/"' in body
    pages.expected.append(re.compile(r"status of 404"))  # the browser logs the 404 itself
    page = await pages.open(f"{base_url}/nowhere", PHONE)
    await expect(page.get_by_test_id("not-found")).to_be_visible()
    assert not await overflows_sideways(page)
    await page.get_by_test_id("home-link").click()
    await expect(page.get_by_test_id("join-form")).to_be_visible(timeout=ms(10))
    # the join page asks for the sessions on offer: done before the server stops at teardown
    await page.wait_for_load_state("networkidle")


# --- the join page ------------------------------------------------------------------------


async def test_the_join_page_offers_the_sessions_being_hosted(pages: Pages) -> None:
    settings = ServerSettings(port=0, open_sessions=("lounge",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        base = f"ws://127.0.0.1:{server.port}"
        code = server.gatekeeper.join_code("quiet")
        async with (
            DreamClient(f"{base}/lounge", "Zara"),
            DreamClient(f"{base}/lounge", "Kai"),
            DreamClient(f"{base}/quiet", "Ada", code=code),
        ):
            _, headers, body = await http_get(server.port, "/sessions.json")
            assert headers["content-type"] == "application/json"
            listing = json.loads(body)
            assert listing["replay"] is False
            assert listing["sessions"] == [
                {
                    "id": "lounge",
                    "venue": "sleep-commons",
                    "title": "The Sleep Commons",
                    "people": 2,
                    "open": True,
                },
                {
                    "id": "quiet",
                    "venue": "sleep-commons",
                    "title": "The Sleep Commons",
                    "people": 1,
                    "open": False,
                },
            ]
            assert b"Zara" not in body  # nothing private: no names, no codes
            assert code.encode() not in body

            page = await pages.open(f"http://127.0.0.1:{server.port}/", PHONE)
            offered = page.get_by_test_id("sessions").get_by_role("button")
            await expect(offered).to_have_count(2)
            await expect(offered.first).to_contain_text("lounge · 2 here · open")
            await expect(page.get_by_test_id("session-input")).to_have_value("lounge")
            await offered.last.click()
            await expect(page.get_by_test_id("session-input")).to_have_value("quiet")
            assert not await overflows_sideways(page)
            await page.get_by_test_id("name-input").fill("Lyra")
            await page.get_by_test_id("code-input").fill(code)
            await page.get_by_test_id("join-button").click()
            state = page.get_by_test_id("connection-state")
            await expect(state).to_have_text("connected", timeout=ms(10))
