"""The browser client in a real Chromium: pages, static files, and the dream as people see it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.breathing import breath_phases_at, mean_vector
from dreamcommons.contracts.motion import motifs_at, phase_remaining
from dreamcommons.contracts.protocol import (
    MAX_WHISPER_CHARS as WHISPER_BOUND,
)
from dreamcommons.contracts.protocol import (
    BreathView,
    Delta,
    DreamscapeState,
    Encoding,
    Mood,
    MotifView,
    ParticipantView,
    RegionView,
    SceneView,
    WhisperView,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import SleeperUpdated
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from dreamcommons.server.web import WEBCLIENT
from tests.browser.conftest import Pages, screenshot
from tests.conftest import within
from tests.processes import dreamcommons, free_port, read_until

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SERVER_DIR = Path(__file__).resolve().parents[2] / "server"


def ms(seconds: float) -> float:
    """A Playwright timeout (milliseconds) for a wait of ``seconds``, scaled like every wait."""
    return within(seconds) * 1000


# --- plain HTTP ---------------------------------------------------------------------------


async def http_get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``target`` exactly as written (no client-side normalising of dots or escapes)."""
    async with asyncio.timeout(within(5)):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        writer.close()
        await writer.wait_closed()
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/s/commons", "text/html; charset=utf-8"),
        ("/watch/commons", "text/html; charset=utf-8"),
        ("/host/night-owls-2", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/protocol.js", "text/javascript; charset=utf-8"),
        ("/static/motion.js", "text/javascript; charset=utf-8"),
        ("/static/connection.js", "text/javascript; charset=utf-8"),
        ("/static/host.js", "text/javascript; charset=utf-8"),
        ("/static/render.js", "text/javascript; charset=utf-8"),
        ("/static/ui.js", "text/javascript; charset=utf-8"),
        ("/static/join.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/vendor/qrcode.mjs", "text/javascript; charset=utf-8"),
        ("/sessions.json", "application/json"),
    ],
)
async def test_pages_and_static_files_have_their_type_and_strict_headers(
    base_url: str, path: str, content_type: str
) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    status, headers, body = await http_get(port, path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-cache"
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' ws: wss:" in policy
    assert "unsafe" not in policy
    assert len(body) == int(headers["content-length"]) > 0


async def test_the_pages_have_no_inline_script_or_event_handler() -> None:
    pages = sorted(WEBCLIENT.glob("*.html"))
    assert {"index.html", "app.html", "not-found.html"} <= {page.name for page in pages}
    for page in pages:
        html = page.read_text()
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert all("src=" in tag for tag in scripts), page.name
        assert not re.search(r"\son[a-z]+\s*=", html), page.name
        assert "style=" not in html, page.name


@pytest.mark.parametrize(
    "target",
    [
        "/static/../gateway.py",
        "/static/%2e%2e/gateway.py",
        "/static/%2E%2E%2Fgateway.py",
        "/static/..%2f..%2fpyproject.toml",
        "/static/vendor/../../web.py",
        "/static/./app.js/../../gateway.py",
        "/static//etc/passwd",
        "/static/%5c..%5cweb.py",
        "/static/..\\gateway.py",
        "/s/../static/../gateway.py",
    ],
)
async def test_path_traversal_is_refused(base_url: str, target: str) -> None:
    assert (SERVER_DIR / "gateway.py").is_file()
    port = int(base_url.rsplit(":", 1)[1])
    status, _, body = await http_get(port, target)
    assert status == 404
    assert b"import" not in body


@pytest.mark.parametrize(
    "path", ["/s/", "/s/Commons", "/s/a_b", "/watch/commons/x", "/static/nope.js", "/elsewhere"]
)
async def test_unknown_paths_are_not_found(base_url: str, path: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    status, _, _ = await http_get(port, path)
    assert status == 404


# --- the join page ------------------------------------------------------------------------


async def test_the_join_page_navigates_to_the_dreamscape(pages: Pages, base_url: str) -> None:
    page = await pages.open(f"{base_url}/")
    await page.get_by_test_id("session-input").fill("Night Owls")
    await page.get_by_test_id("name-input").fill("Zara")
    await page.get_by_label("waker").check()
    await screenshot(page, "join")
    await page.get_by_test_id("join-button").click()
    await page.wait_for_url(re.compile(r"/s/night-owls\?"), timeout=ms(10))
    assert "name=Zara" in page.url
    assert "role=waker" in page.url
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    me = page.get_by_test_id("participants").locator("li", has_text="Zara")
    await expect(me).to_have_attribute("data-role", "waker")


# --- the dreamscape -----------------------------------------------------------------------


async def open_dream(pages: Pages, url: str) -> Page:
    page = await pages.open(url)
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    return page


async def contribute(page: Page, motif: str) -> None:
    await page.get_by_test_id("motif-input").fill(motif)
    await page.get_by_test_id("contribute-form").get_by_role("button", name="Dream it").click()


async def whisper(page: Page, text: str) -> None:
    await page.get_by_test_id("whisper-input").fill(text)
    await page.get_by_test_id("whisper-form").get_by_role("button").click()


async def test_the_whisper_box_holds_what_the_server_says_it_takes(pages: Pages) -> None:
    settings = ServerSettings(port=0, max_whisper_chars=40, open_sessions=("*",))
    assert settings.max_whisper_chars < WHISPER_BOUND  # else the page's own bound would do
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        page = await open_dream(pages, f"http://127.0.0.1:{server.port}/s/commons?name=Lyra")
        box = page.get_by_test_id("whisper-input")
        await expect(box).to_have_attribute("maxlength", "40", timeout=ms(5))
        await box.evaluate("(input) => { input.removeAttribute('maxlength'); }")
        await whisper(page, "w" * 41)
        await expect(page.get_by_text("A whisper is 1 to 40 characters.")).to_be_visible()


async def test_a_large_room_shows_counts_and_the_whole_list_on_demand(pages: Pages) -> None:
    settings = ServerSettings(port=0, open_sessions=("*",))
    venue = load_venue("sleep-commons").model_copy(update={"list_everyone_up_to": 2})
    async with DreamServer(settings, venue) as server:
        url = f"ws://127.0.0.1:{server.port}/hall"
        async with DreamClient(url, "Ada"), DreamClient(url, "Bo"), DreamClient(url, "Cy"):
            page = await open_dream(pages, f"http://127.0.0.1:{server.port}/s/hall?name=Lyra")
            count = page.get_by_test_id("people-count")
            await expect(count).to_have_text(re.compile(r"^4 here · listing"), timeout=ms(5))
            await expect(page.get_by_test_id("participants").locator("li")).to_have_count(0)
            await page.get_by_test_id("everyone-more").click()
            everyone = page.get_by_test_id("everyone").locator(".name")
            await expect(everyone).to_have_text(["Ada", "Bo", "Cy", "Lyra"], timeout=ms(5))

            key = settings.host_key
            host = await open_dream(pages, f"http://127.0.0.1:{server.port}/host/hall#key={key}")
            await expect(host.get_by_test_id("participants").locator("li")).to_have_count(1)
            removable = host.get_by_test_id("remove-input").locator("option")
            await expect(removable).to_have_count(0)
            await host.get_by_test_id("everyone-more").click()
            await expect(removable).to_have_count(4, timeout=ms(5))  # all but the host


async def test_a_contribution_is_in_the_dream_when_its_ack_comes_after_its_delta(
    pages: Pages, tmp_path: Path
) -> None:
    """With a journal the tick's delta shows the contribution before the commit releases its
    ack: the page still says it is in the dream once the ack comes."""
    settings = ServerSettings(port=0, journal=tmp_path / "dreams.sqlite", open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        page = await open_dream(pages, f"http://127.0.0.1:{server.port}/s/commons?name=Lyra")
        await contribute(page, "lantern")
        status = page.get_by_test_id("status-line")
        await expect(status).to_contain_text("in the dream", timeout=ms(10))


async def test_two_pages_share_one_dreamscape(pages: Pages, base_url: str) -> None:
    lyra = await open_dream(pages, f"{base_url}/s/commons?name=Lyra")
    kai = await open_dream(pages, f"{base_url}/s/commons?name=Kai&role=dreamer")
    for page in (lyra, kai):
        await expect(page.get_by_test_id("participants").locator("li")).to_have_count(2)

    # Latency as the pages see it (one clock for both: the epoch in milliseconds), from Lyra's
    # submit to the motif's list item appearing on Kai's page.
    await lyra.evaluate(
        """() => document.querySelector('[data-testid=contribute-form]').addEventListener(
            'submit', () => { window.sentAt = performance.timeOrigin + performance.now(); },
            { once: true })"""
    )
    await kai.evaluate(
        """name => {
            const list = document.querySelector('[data-testid=motif-list]');
            window.seenAt = new Promise((resolve) => {
                const watch = new MutationObserver(() => {
                    if (list.querySelector(`li[data-motif="${name}"]`)) {
                        watch.disconnect();
                        resolve(performance.timeOrigin + performance.now());
                    }
                });
                watch.observe(list, { childList: true });
            });
        }""",
        "lantern",
    )
    await contribute(lyra, "lantern")
    shown = kai.get_by_test_id("motif-list").locator('li[data-motif="lantern"]')
    await expect(shown).to_be_attached(timeout=ms(10))
    # Lyra's page found her own contribution in a delta's applied pairs
    await expect(lyra.get_by_test_id("status-line")).to_contain_text("in the dream")
    latency = (await kai.evaluate("window.seenAt") - await lyra.evaluate("window.sentAt")) / 1000
    assert 0 < latency < within(1.0), f"the other page showed the motif after {latency:.2f} s"

    # The canvas draws it too: the blob's centre glows well above the background.
    glowing = """([x, y]) => {
        const canvas = document.querySelector('[data-testid=dreamscape]');
        const ctx = canvas.getContext('2d');
        const at = (px, py) => ctx.getImageData(px, py, 1, 1).data.slice(0, 3)
            .reduce((a, b) => a + b, 0);
        return at(Math.round(x * canvas.width), Math.round(y * canvas.height))
            > at(2, canvas.height - 2) + 120;
    }"""
    x = float(await shown.get_attribute("data-x") or "nan")
    y = float(await shown.get_attribute("data-y") or "nan")
    await kai.wait_for_function(glowing, arg=[x, y], timeout=ms(10))
    await expect(lyra.get_by_test_id("status-line")).to_have_text(re.compile("lantern"))

    seq = int(await kai.get_by_test_id("seq").inner_text())
    await kai.wait_for_function(
        "n => Number(document.querySelector('[data-testid=seq]').textContent) > n + 3",
        arg=seq,
        timeout=ms(10),
    )
    await screenshot(kai, "dreamscape")


async def test_a_whisper_containing_html_shows_as_text(pages: Pages, base_url: str) -> None:
    lyra = await open_dream(pages, f"{base_url}/s/whispers?name=Lyra")
    kai = await open_dream(pages, f"{base_url}/s/whispers?name=<i>Kai</i>")
    text = '<img src=x onerror="window.pwned=1"><b>bold</b> & <script>window.pwned=2</script>'
    await whisper(lyra, text)
    whispers = kai.get_by_test_id("whispers")
    await expect(whispers.locator("li")).to_have_count(1, timeout=ms(10))
    await expect(whispers.locator("li").first).to_contain_text(text)
    assert await whispers.locator("img, b, script").count() == 0
    assert await kai.evaluate("window.pwned") is None
    assert await lyra.evaluate("window.pwned") is None
    names = lyra.get_by_test_id("participants")
    await expect(names).to_contain_text("<i>Kai</i>")
    assert await names.locator("i").count() == 0


async def test_a_reload_resumes_the_same_participant(pages: Pages, base_url: str) -> None:
    page = await open_dream(pages, f"{base_url}/s/reload?name=Lyra")
    mine = page.get_by_test_id("participants").locator("li", has_text="you")
    pid = await mine.get_attribute("data-pid")
    await page.reload()
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    await expect(mine).to_have_attribute("data-pid", pid or "?")
    await expect(page.get_by_test_id("participants").locator("li")).to_have_count(1)


async def test_the_page_shows_ones_own_resume_token(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    page = await open_dream(pages, f"{base_url}/s/tokens?name=Lyra")
    await page.get_by_test_id("me").locator("summary").click()
    shown = page.get_by_test_id("me-token")
    await expect(shown).not_to_have_text("")
    pid = await page.get_by_test_id("participants").locator("li").get_attribute("data-pid")
    member = dream_server.sessions["tokens"].member(pid or "?")
    assert member is not None
    assert await shown.text_content() == member.resume_token


async def test_the_watch_page_updates_and_cannot_contribute(pages: Pages, base_url: str) -> None:
    dreamer = await open_dream(pages, f"{base_url}/s/broadcast?name=Lyra")
    watch = await pages.blank()
    routes: list[WebSocketRoute] = []

    def forward(page_side: WebSocketRoute) -> None:
        routes.append(page_side.connect_to_server())  # frames flow as usual, and we may forge

    await watch.route_web_socket(re.compile(r"/broadcast$"), forward)
    await watch.goto(f"{base_url}/watch/broadcast")
    await expect(watch.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    for hidden in ("contribute-form", "motif-input", "whisper-input", "pair-input"):
        assert await watch.get_by_test_id(hidden).count() == 0, hidden
    await expect(watch.get_by_test_id("participants")).to_contain_text("watcher")

    await contribute(dreamer, "river")
    await whisper(dreamer, "the river remembers")
    await expect(watch.locator('li[data-motif="river"]')).to_be_attached(timeout=ms(10))
    await expect(watch.get_by_test_id("whispers")).to_contain_text("the river remembers")

    forged = {"type": "contribute", "cid": 999, "motif": "flood", "intensity": 1.0}
    routes[-1].send(json.dumps(forged))
    await expect(watch.get_by_test_id("error-line")).to_contain_text("forbidden", timeout=ms(10))
    assert await dreamer.locator('li[data-motif="flood"]').count() == 0
    await screenshot(watch, "watch")


async def test_the_host_console_runs_the_session(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    guest = await open_dream(pages, f"{base_url}/s/console?name=Kai")
    key = dream_server.settings.host_key
    host = await open_dream(pages, f"{base_url}/host/console?name=Vivienne#key={key}")
    assert "key=" not in host.url  # the key leaves the address bar at once
    people = host.get_by_test_id("participants").locator("li")
    await expect(people).to_have_count(2)
    await expect(people.filter(has_text="Vivienne")).to_have_attribute("data-role", "host")
    assert await host.get_by_test_id("contribute-form").count() == 0  # hosts do not dream

    scene = host.get_by_test_id("scene")
    await expect(scene).to_have_attribute("data-phase", "gathering")
    panel = host.get_by_test_id("host-panel")
    await panel.get_by_role("button", name="Next phase").click()
    await expect(scene).to_have_attribute("data-phase", "descent", timeout=ms(10))
    await expect(guest.get_by_test_id("scene")).to_have_attribute("data-phase", "descent")
    await panel.get_by_role("button", name="Pause").click()
    await expect(scene).to_contain_text("(paused)", timeout=ms(10))

    # Commands to the host's own devices: this server has no device broker, and says so.
    await host.get_by_test_id("device-input").fill("pod-vivienne")
    await host.get_by_test_id("action-input").select_option("light")
    await host.get_by_test_id("command-form").get_by_role("button").click()
    await expect(host.get_by_test_id("error-line")).to_contain_text("no_devices", timeout=ms(10))
    await expect(host.get_by_test_id("command-result")).to_contain_text("refused")
    await host.get_by_test_id("pair-input").fill(
        "abcd-2345 67"
    )  # as typed: any case, dashes, spaces
    await host.get_by_test_id("pair-form").get_by_role("button").click()
    await expect(host.get_by_test_id("error-line")).to_contain_text("ABCD234567")
    await screenshot(host, "host")

    # Taking someone out needs a second click; then they are gone for good.
    kai = await people.filter(has_text="Kai").get_attribute("data-pid")
    await host.get_by_test_id("remove-input").select_option(value=kai)
    remove = host.get_by_test_id("remove-form").get_by_role("button")
    await remove.click()
    await expect(remove).to_contain_text("Click again")
    assert await people.count() == 2
    await remove.click()
    await expect(people).to_have_count(1, timeout=ms(10))
    await expect(guest.get_by_test_id("connection-state")).to_have_text("removed")


async def test_the_host_console_asks_for_the_key_and_refuses_a_wrong_one(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    wrong = await pages.open(f"{base_url}/host/keys#key=not-the-key")
    await expect(wrong.get_by_test_id("connection-state")).to_have_text("refused", timeout=ms(10))
    await expect(wrong.get_by_test_id("error-line")).to_contain_text("host key")
    await expect(wrong.get_by_test_id("host-panel")).to_be_hidden()
    await wrong.get_by_test_id("key-input").fill(dream_server.settings.host_key)  # try again
    await wrong.get_by_test_id("key-form").get_by_role("button").click()
    state = wrong.get_by_test_id("connection-state")
    await expect(state).to_have_text("connected", timeout=ms(10))
    await expect(wrong.get_by_test_id("host-panel")).to_be_visible()

    page = await pages.open(f"{base_url}/host/keys")
    await expect(page.get_by_test_id("connection-state")).to_have_text("waiting")
    await page.get_by_test_id("key-input").fill(dream_server.settings.host_key)
    await page.get_by_test_id("key-form").get_by_role("button").click()
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    await expect(page.get_by_test_id("key-form")).to_have_count(0)
    await expect(page.get_by_test_id("host-panel")).to_be_visible()


async def test_the_share_level_and_private_motifs_keep_a_dream_to_oneself(
    pages: Pages, base_url: str
) -> None:
    lyra = await open_dream(pages, f"{base_url}/s/consent?name=Lyra")
    kai = await open_dream(pages, f"{base_url}/s/consent?name=Kai")
    await lyra.get_by_test_id("private-input").check()
    await contribute(lyra, "secret")
    await expect(lyra.get_by_test_id("status-line")).to_contain_text("private", timeout=ms(10))
    await lyra.get_by_test_id("private-input").uncheck()
    await contribute(lyra, "lantern")
    motifs = kai.get_by_test_id("motif-list")
    await expect(motifs.locator('li[data-motif="lantern"]')).to_be_attached(timeout=ms(10))
    assert await motifs.locator('li[data-motif="secret"]').count() == 0

    await lyra.get_by_test_id("share-input").fill("0")
    await expect(lyra.get_by_test_id("status-line")).to_contain_text("share 0 %: done")
    await expect(motifs.locator('li[data-motif="lantern"]')).to_have_count(0, timeout=ms(10))


async def test_a_gap_in_the_deltas_is_healed_by_a_snapshot(pages: Pages, base_url: str) -> None:
    page = await pages.blank()
    resyncs: list[str] = []
    dropped: list[int] = []

    def lossy(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def to_server(frame: str | bytes) -> None:
            if isinstance(frame, str) and '"resync"' in frame:
                resyncs.append(frame)
            server_side.send(frame)

        def to_page(frame: str | bytes) -> None:
            message = json.loads(frame)
            if message["type"] == "delta" and message["seq"] % 10 == 5 and not dropped:
                dropped.append(message["seq"])  # lose one delta, once
                return
            page_side.send(frame)

        page_side.on_message(to_server)
        server_side.on_message(to_page)

    await page.route_web_socket(re.compile(r"/gaps$"), lossy)
    await page.goto(f"{base_url}/s/gaps?name=Lyra")
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    await page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=seq]').textContent) > 20",
        timeout=ms(10),
    )
    assert len(dropped) == 1
    assert len(resyncs) == 1
    await contribute(page, "moss")
    await expect(page.locator('li[data-motif="moss"]')).to_be_attached(timeout=ms(10))


async def test_a_dropped_socket_resumes_by_sequence(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    page = await pages.blank()
    routes: list[WebSocketRoute] = []
    joins: list[dict[str, Any]] = []
    welcomes: list[dict[str, Any]] = []
    after_welcome: list[dict[str, Any]] = []  # every frame to the page after its latest welcome

    def relay(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        routes.append(page_side)

        def to_server(frame: str | bytes) -> None:
            message = json.loads(frame)
            if message["type"] in ("join", "resync"):
                joins.append(message)
            server_side.send(frame)

        def to_page(frame: str | bytes) -> None:
            message = json.loads(frame)
            if message["type"] == "welcome":
                welcomes.append(message)
                after_welcome.clear()
            else:
                after_welcome.append(message)
            page_side.send(frame)

        page_side.on_message(to_server)
        server_side.on_message(to_page)

    await page.route_web_socket(re.compile(r"/comeback$"), relay)
    # another listener in the page's encoding, so that the session keeps its JSON deltas
    url = f"ws://127.0.0.1:{dream_server.port}/comeback"
    async with DreamClient(url, "Zara", encoding=Encoding.JSON) as zara:
        await page.goto(f"{base_url}/s/comeback?name=Lyra")
        state = page.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=ms(10))
        await contribute(page, "ember")
        await expect(page.locator('li[data-motif="ember"]')).to_be_attached(timeout=ms(10))
        await routes[0].close(code=4999, reason="a dropped link")  # both sides close
        await zara.contribute("owl")
        await expect(page.locator('li[data-motif="owl"]')).to_be_attached(timeout=ms(15))
        await expect(state).to_have_text("connected", timeout=ms(10))
    assert [message["type"] for message in joins] == ["join", "join"]  # no resync
    assert "since" not in joins[0]
    held = joins[1]["since"]
    assert welcomes[1]["state"] is None
    assert welcomes[1]["resumed_from"] == held["seq"]
    seqs = [message["seq"] for message in after_welcome if message["type"] == "delta"]
    assert seqs == list(range(held["seq"] + 1, held["seq"] + 1 + len(seqs)))
    assert dream_server.sessions["comeback"].stats.resumed_by_sequence == 1
    await expect(page.locator('li[data-motif="ember"]')).to_be_attached()  # its state kept


async def test_a_fractured_scene_shows_its_regions(pages: Pages, base_url: str) -> None:
    page = await pages.blank()
    fractured = SceneView(
        phase="dream", coherence=0.18, sleepers=4, fractured=True, harmonizing=True, calm=0.25,
        regions=(
            RegionView(id=0, x=0.3, y=0.35, participants=("p1",), motifs=("ember",)),
            RegionView(id=1, x=0.7, y=0.65, participants=("p2",), motifs=()),
        ),
    ).model_dump(mode="json")  # fmt: skip

    def fracturing(page_side: WebSocketRoute) -> None:
        # Fracture needs sleepers breathing out of step; here the frames say it instead.
        server_side = page_side.connect_to_server()
        page_side.on_message(server_side.send)

        def to_page(frame: str | bytes) -> None:
            message = json.loads(frame)
            if message["type"] == "delta":
                message["scene"] = fractured
            page_side.send(json.dumps(message))

        server_side.on_message(to_page)

    await page.route_web_socket(re.compile(r"/rift$"), fracturing)
    await page.goto(f"{base_url}/s/rift?name=Lyra")
    scene = page.get_by_test_id("scene")
    await expect(scene).to_contain_text("FRACTURED into 2 regions", timeout=ms(10))
    await expect(scene).to_contain_text("coherence 0.18 (4 sleepers)")
    await expect(scene).to_contain_text("harmonizing")
    await expect(scene).to_contain_text("calming 25 %")
    await contribute(page, "ember")
    await expect(page.locator('li[data-motif="ember"]')).to_be_attached(timeout=ms(10))
    await screenshot(page, "fractured")


async def test_deltas_apply_in_the_browser_as_on_the_server(pages: Pages, base_url: str) -> None:
    def motif(name: str, weight: float) -> MotifView:
        return MotifView(
            name=name, colour="#aabbcc", weight=weight, intensity=0.5, valence=-0.2,
            arousal=0.4, x=0.3, y=0.7, t=0.4, phase=0.25,
        )  # fmt: skip

    def person(pid: str, present: bool = True) -> ParticipantView:
        return ParticipantView(id=pid, name=pid.upper(), role="dreamer", present=present)

    def said(text: str) -> WhisperView:
        return WhisperView(participant="p1", name="P1", text=text, t=1.5)

    state = DreamscapeState(
        session="mirror", venue="sleep-commons", seq=4, t=0.4,
        motifs=(motif("moon", 1.0), motif("river", 0.5)), whispers=(said("a"), said("b")),
        whisper_limit=3, participants=(person("p1"), person("p10"), person("p2")),
    )  # fmt: skip
    deltas = [
        Delta(
            seq=5, t=0.5, motifs=(motif("river", 0.7), motif("fern", 0.1)), removed=("moon",),
            mood=Mood(valence=0.3, arousal=0.2), whispers=(said("c"), said("d")),
            scene=SceneView(phase="descent", coherence=0.2, sleepers=3, fractured=True,
                            regions=(RegionView(id=0, x=0.3, y=0.4, participants=("p2",),
                                                motifs=("fern",)),)),
            participants=(person("p2", present=False), person("p3")), left=("p1",),
            applied={"p2": 7, "p1f": 3, "p10": 2, "guest": 5},
        ),
        Delta(seq=6, t=0.6, removed=("nothing",), left=("p99",)),
        Delta(seq=7, t=0.7, motifs=(motif("ash", 2.0),), whispers=(said("e"),)),
    ]  # fmt: skip
    expected = []
    current = state
    for delta in deltas:
        current = current.apply(delta)
        expected.append(current.model_dump(mode="json"))

    page = await pages.open(f"{base_url}/")
    outcome = await page.evaluate(
        """async ([state, deltas]) => {
            const { applyDelta, appliedOf, StateTracker } = await import('/static/protocol.js');
            const { backoffSeconds } = await import('/static/connection.js');
            const states = [];
            let s = state;
            for (const d of deltas) { s = applyDelta(s, d); states.push(s); }
            const t = new StateTracker(state);
            const early = [6, 5, 4].map((seq) => t.onDelta({ ...deltas[0], seq }));
            const healed = t.onSnapshot({ ...state, seq: 6 });
            const after = [6, 7].map((seq) => t.onDelta({ ...deltas[2], seq }));
            const backoff = [0, 1, 4, 30].map((n) => [0, 1].map((r) => backoffSeconds(n, () => r)));
            const applied = deltas.map(appliedOf);
            return { states, early, healed, after, gaps: t.gaps, backoff, applied };
        }""",
        [state.model_dump(mode="json"), [delta.model_dump(mode="json") for delta in deltas]],
    )
    assert outcome["states"] == expected
    assert outcome["applied"] == [delta.applied for delta in deltas]
    assert outcome["early"] == ["gap", "waiting", "waiting"]
    assert outcome["healed"] is True
    assert outcome["after"] == ["stale", "applied"]
    assert outcome["gaps"] == 1
    assert outcome["backoff"] == [[0.1875, 0.3125], [0.375, 0.625], [3, 5], [3.75, 5]]


async def test_motifs_extrapolate_in_the_browser_as_in_python(pages: Pages, base_url: str) -> None:
    """motion.js and contracts.motion: the same state and time give the same numbers."""

    def motif(name: str, weight: float, t: float, x: float, phase: float) -> MotifView:
        return MotifView(
            name=name, colour="#aabbcc", weight=weight, t=t, intensity=0.5, valence=-0.2,
            arousal=0.4, x=x, y=1.0 - x, phase=phase,
        )  # fmt: skip

    state = DreamscapeState(
        session="mirror", venue="sleep-commons", seq=9, t=12.3, half_life_s=45.0,
        motifs=(motif("moon", 1.25, 10.0, 0.3, 0.125), motif("edge", 0.5, 12.3, 0.99, 0.7),
                motif("fern", 2.0, 0.0, 0.02, 0.0)),
        scene=SceneView(phase="dream", phase_ends=100.0),
    )  # fmt: skip
    paused = SceneView(phase="dream", paused=True, phase_remaining_s=42.0)
    times = [0.0, 10.0, 12.3, 13.05, 47.5, 3600.25]
    expected: list[dict[str, Any]] = [
        {
            "motifs": [dataclasses.asdict(m) for m in motifs_at(state, t)],
            "left": phase_remaining(state.scene, t),
            "paused": phase_remaining(paused, t),
        }
        for t in times
    ]
    page = await pages.open(f"{base_url}/")
    got = await page.evaluate(
        """async ([state, paused, times]) => {
            const { motifsAt, phaseRemaining } = await import('/static/motion.js');
            return times.map((t) => ({
                motifs: motifsAt(state, t),
                left: phaseRemaining(state.scene, t),
                paused: phaseRemaining(paused, t),
            }));
        }""",
        [state.model_dump(mode="json"), paused.model_dump(mode="json"), times],
    )
    numbers = ("weight", "intensity", "valence", "arousal", "x", "y")
    for mine, theirs in zip(expected, got, strict=True):
        assert (theirs["left"], theirs["paused"]) == (mine["left"], mine["paused"])
        for m, js in zip(mine["motifs"], theirs["motifs"], strict=True):
            assert (js["name"], js["colour"]) == (m["name"], m["colour"])
            assert [js[k] for k in numbers] == pytest.approx([m[k] for k in numbers], rel=1e-12)
    moon_at = expected[3]["motifs"][0]
    assert moon_at["weight"] == pytest.approx(1.25 * 2 ** (-(13.05 - 10.0) / 45.0))
    assert expected[0]["motifs"][1]["weight"] == 0.5  # never grown back before its time
    assert expected[1]["motifs"][1]["x"] == 1.0  # an orbit past the edge stays on the canvas
    assert [at["left"] for at in expected][-2:] == [52.5, 0.0]
    assert {at["paused"] for at in expected} == {42.0}


async def test_breathing_extrapolates_in_the_browser_as_in_python(
    pages: Pages, base_url: str
) -> None:
    """motion.js and contracts.breathing: the same views and times give the same phases."""
    breaths = [
        BreathView(phase=0.0, hz=0.25, t=0.0),
        BreathView(phase=6.283, hz=0.1667, t=12.3),
        BreathView(phase=3.1, hz=0.3125, t=100.0),
    ]
    sharing = [
        ParticipantView(id=f"p{i}", name=f"S{i}", role="dreamer", stage="light", breath=b)
        for i, b in enumerate(breaths)
    ]
    hidden = ParticipantView(id="p9", name="Hidden", role="dreamer")
    state = DreamscapeState(
        session="mirror", venue="sleep-commons", t=12.3, participants=(*sharing, hidden)
    )
    times = [0.0, 1.0, 12.3, 13.05, 47.5, 3600.25]
    expected: list[dict[str, Any]] = [
        {
            "phases": breath_phases_at(state, t),
            "mean": mean_vector(breath_phases_at(state, t).values()),
        }
        for t in times
    ]
    page = await pages.open(f"{base_url}/")
    got = await page.evaluate(
        """async ([state, times]) => {
            const { breathPhasesAt, meanVector } = await import('/static/motion.js');
            return times.map((t) => {
                const phases = breathPhasesAt(state, t);
                return { phases: Object.fromEntries(phases), mean: meanVector(phases.values()) };
            });
        }""",
        [state.model_dump(mode="json"), times],
    )
    for mine, theirs in zip(expected, got, strict=True):
        assert sorted(theirs["phases"]) == sorted(mine["phases"]) == ["p0", "p1", "p2"]
        for pid, phase in mine["phases"].items():
            assert 0.0 <= theirs["phases"][pid] < math.tau
            turned = (theirs["phases"][pid] - phase + math.pi) % math.tau - math.pi
            assert turned == pytest.approx(0.0, abs=1e-9)
        assert theirs["mean"] == pytest.approx(list(mine["mean"]), abs=1e-9)
    assert expected[2]["phases"]["p1"] == 6.283  # at its own t, the phase it was sent with
    assert expected[1]["phases"]["p0"] == pytest.approx(math.pi / 2)  # a quarter breath a second


# --- a server that goes away --------------------------------------------------------------


async def test_the_page_reconnects_after_the_server_restarts(pages: Pages) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/s/phoenix?name=Lyra"
    async with dreamcommons("host", "--port", str(port), "--open", "phoenix") as first:
        await read_until(first, "hosting", within(15))
        page = await open_dream(pages, url)
        await contribute(page, "ember")
        await expect(page.locator('li[data-motif="ember"]')).to_be_attached(timeout=ms(10))
        first.kill()
        await first.wait()
    state = page.get_by_test_id("connection-state")
    await expect(state).to_have_text("reconnecting", timeout=ms(10))

    async with dreamcommons("host", "--port", str(port), "--open", "phoenix") as second:
        await read_until(second, "hosting", within(15))
        # The new process does not know the old resume token: the page joins afresh.
        await expect(state).to_have_text("connected", timeout=ms(15))
        await expect(page.locator('li[data-motif="ember"]')).to_have_count(0)
        await contribute(page, "phoenix")
        await expect(page.locator('li[data-motif="phoenix"]')).to_be_attached(timeout=ms(10))
        await expect(page.get_by_test_id("participants").locator("li")).to_have_count(1)
        await screenshot(page, "reconnected")


async def test_a_sleeper_shows_their_stage_only_when_they_choose(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    lyra = await open_dream(pages, f"{base_url}/s/stages?name=Lyra")
    kai = await open_dream(pages, f"{base_url}/s/stages?name=Kai")
    session = dream_server.sessions["stages"]
    pid = next(m.pid for m in session.members if m.name == "Lyra")
    session.engine.apply(
        SleeperUpdated(
            participant=pid, stage=3, stress=0.0, breath_phase=None, breath_hz=None, t=0.0
        )
    )  # as if Lyra's pod said she sleeps deeply
    row = kai.get_by_test_id("participants").locator("li", has_text="Lyra")
    await expect(row).to_be_visible(timeout=ms(10))
    await expect(row.locator("[data-stage]")).to_have_count(0)
    await lyra.get_by_test_id("stage-input").check()
    await expect(row.locator('[data-stage="deep"]')).to_be_visible(timeout=ms(10))
    await lyra.get_by_test_id("stage-input").uncheck()
    await expect(row.locator("[data-stage]")).to_have_count(0, timeout=ms(10))


async def test_a_private_session_lets_in_only_with_its_code(pages: Pages) -> None:
    settings = ServerSettings(port=0)
    async with DreamServer(settings, load_venue("sleep-commons")) as private:
        base = f"http://127.0.0.1:{private.port}"
        stranger = await pages.open(f"{base}/s/quiet?name=Eve")
        state = stranger.get_by_test_id("connection-state")
        await expect(state).to_have_text("refused", timeout=ms(10))
        await expect(stranger.get_by_test_id("error-line")).to_contain_text("invitation_required")

        page = await pages.open(f"{base}/")
        await page.get_by_test_id("session-input").fill("quiet")
        await page.get_by_test_id("name-input").fill("Lyra")
        code = private.gatekeeper.join_code("quiet")
        await page.get_by_test_id("code-input").fill(f"{code[:4].lower()}-{code[4:]}")
        await page.get_by_test_id("join-button").click()
        await page.wait_for_url(re.compile(rf"/s/quiet\?.*code={code}"), timeout=ms(10))
        connection = page.get_by_test_id("connection-state")
        await expect(connection).to_have_text("connected", timeout=ms(10))


async def test_the_host_console_gives_the_code_and_invitation_links(pages: Pages) -> None:
    async with DreamServer(ServerSettings(port=0), load_venue("sleep-commons")) as private:
        base = f"http://127.0.0.1:{private.port}"
        key = private.gatekeeper.host_secret("salon")
        host = await open_dream(pages, f"{base}/host/salon?name=Vivienne#key={key}")
        code = private.gatekeeper.join_code("salon")
        await expect(host.get_by_test_id("join-code")).to_have_text(f"{code[:4]}-{code[4:]}")
        await host.get_by_test_id("invite-role").select_option("watcher")
        await host.get_by_test_id("invite-form").get_by_role("button").click()
        link = host.get_by_test_id("invite-url")
        await expect(link).to_contain_text("/watch/salon?token=", timeout=ms(10))
        await screenshot(host, "host-invite")
        url = await link.get_attribute("href")
        assert url is not None
        guest = await open_dream(pages, url)
        me = guest.get_by_test_id("participants").locator("li", has_text="watcher")
        await expect(me.first).to_have_attribute("data-role", "watcher", timeout=ms(10))
        assert await guest.get_by_test_id("contribute-form").count() == 0
