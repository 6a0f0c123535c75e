"""The night as the page shows it, in a real Chromium: the plots, the notices of its moments,
and a canvas that stays readable, moves between deltas and holds still when asked to."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, WebSocketRoute, expect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.server.engine import DevicesChanged, SleeperUpdated
from dreamcommons.server.gateway import DreamServer
from tests.browser.conftest import Pages, screenshot
from tests.browser.test_web_client import contribute, http_get, ms, open_dream

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


HISTORY = """async () => {
    const { NightHistory, HISTORY_SAMPLES } = await import('/static/history.js');
    const history = new NightHistory();
    const scene = { phase: 'dream', coherence: 0.5, chance: 0.3, fractured: false };
    const kai = { id: 'p1', name: 'Kai', stage: 'deep' };
    const state = (t, participants = [kai]) =>
        ({ t, scene, mood: { valence: 0.1, arousal: 0.2 }, participants });
    const taken = [];
    for (let i = 0; i < 10; i += 1) taken.push(history.record(state(i / 10)));  // one second
    const moment = [{ kind: 'fracture', t: 0.95, text: '' }];
    taken.push(history.record(state(0.95), moment));  // a moment is a sample of its own
    for (let t = 1; t < HISTORY_SAMPLES + 500; t += 1) {
        history.record(state(t, t % 2 ? [kai, { id: 'p2', name: 'Mia', stage: 'rem' }] : [kai]));
    }
    const long = { length: history.length, first: history.t[0], moments: history.moments.length,
                   stages: [...history.sleepers.values()].map((s) => s.stages.length),
                   mia: history.sleepers.get('p2').stages.slice(-2) };
    history.record(state(3));  // a replay sought back: the history starts again from there
    return { taken, long, bound: HISTORY_SAMPLES, again: history.t };
}"""


async def test_the_history_samples_once_a_second_and_is_bounded(
    pages: Pages, base_url: str
) -> None:
    page = await pages.open(f"{base_url}/")
    outcome = await page.evaluate(HISTORY)
    assert outcome["taken"] == [True] + [False] * 9 + [True]
    long = outcome["long"]
    assert long["length"] == outcome["bound"]
    assert long["first"] > 0.95  # the oldest samples went, and the fracture's marker with them
    assert long["moments"] == 0
    assert long["stages"] == [outcome["bound"], outcome["bound"]]  # aligned with the clock
    assert long["mia"] == [None, 2]  # REM when she shows it, nothing when she does not
    assert outcome["again"] == [3]


MOMENTS = """async () => {
    const { momentsBetween } = await import('/static/moments.js');
    const scene = { phase: 'descent', coherence: 0.8, chance: 0.3, fractured: false,
                    harmonizing: false, regions: [] };
    const lyra = { id: 'p1', name: 'Lyra', tag: '2', devices: 0 };
    const before = { t: 10, scene, participants: [lyra] };
    const after = {
        t: 11, participants: [{ ...lyra, devices: 1 }, { id: 'p3', name: 'New', devices: 2 }],
        scene: { ...scene, phase: 'dream', coherence: 0.1, fractured: true, harmonizing: true,
                 regions: [{}, {}] },
    };
    const healed = { ...after, t: 12, scene: { ...after.scene, coherence: 0.9, fractured: false } };
    return {
        first: momentsBetween(null, after),
        moved: momentsBetween(before, after),
        healed: momentsBetween(after, healed).map((m) => m.kind),
        quiet: momentsBetween(healed, { ...healed, t: 13 }),
    };
}"""


async def test_moments_are_what_changed_between_two_states(pages: Pages, base_url: str) -> None:
    page = await pages.open(f"{base_url}/")
    outcome = await page.evaluate(MOMENTS)
    assert outcome["first"] == []  # the page's first state is no moment
    kinds = [(m["kind"], m["t"]) for m in outcome["moved"]]
    assert kinds == [("phase", 11), ("fracture", 11), ("harmonize", 11), ("device", 11)]
    texts = [m["text"] for m in outcome["moved"]]
    assert texts[1] == "The dream fractured into 2 regions: coherence 0.10, chance 0.30"
    assert texts[3] == "Lyra #2's device is online"  # someone new with devices is no moment
    assert outcome["healed"] == ["heal"]
    assert outcome["quiet"] == []


async def test_a_device_coming_online_is_told(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    page = await open_dream(pages, f"{base_url}/s/devices?name=Lyra")
    row = page.get_by_test_id("participants").locator("li", has_text="Lyra")
    await expect(row).to_contain_text("0 devices", timeout=ms(10))  # listed, with none yet
    engine = dream_server.sessions["devices"].engine
    lyra = next(m.pid for m in dream_server.sessions["devices"].members if m.name == "Lyra")
    engine.apply(DevicesChanged(participant=lyra, online=1))  # as if her pod came online
    notice = page.get_by_test_id("moments").locator('[data-kind="device"]')
    await expect(notice).to_have_text("Lyra's device is online", timeout=ms(10))


def hold_deltas(held: list[bool]) -> Any:
    """A WebSocket route that passes every frame until ``held[0]`` is set, then drops deltas."""

    def route(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        page_side.on_message(server_side.send)

        def to_page(frame: str | bytes) -> None:
            if held[0] and json.loads(frame)["type"] == "delta":
                return
            page_side.send(frame)

        server_side.on_message(to_page)

    return route


FRAMES_APART = """async (frames) => {
    const canvas = document.querySelector('[data-testid=dreamscape]');
    const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
    for (let i = 0; i < 3; i += 1) await frame();  // the last delta's easing is over
    const before = canvas.toDataURL();
    for (let i = 0; i < frames; i += 1) await frame();
    return [before, canvas.toDataURL()];
}"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("reduced", [False, True], ids=["motion", "reduced-motion"])
async def test_the_canvas_moves_between_deltas_unless_motion_is_reduced(
    pages: Pages, base_url: str, viewport: ViewportSize, reduced: bool
) -> None:
    page = await sized(await pages.blank(), viewport)
    if reduced:
        await page.emulate_media(reduced_motion="reduce")
    held = [False]
    session = f"drift-{viewport['width']}-{int(reduced)}"
    await page.route_web_socket(re.compile(rf"/{session}$"), hold_deltas(held))
    await page.goto(f"{base_url}/s/{session}?name=Lyra")
    await expect(page.get_by_test_id("connection-state")).to_have_text("connected", timeout=ms(10))
    await contribute(page, "lantern")
    await expect(page.locator('li[data-motif="lantern"]')).to_be_attached(timeout=ms(10))
    held[0] = True  # from now on no delta reaches the page
    seq = await page.get_by_test_id("seq").text_content()
    before, after = await page.evaluate(FRAMES_APART, 10)
    assert await page.get_by_test_id("seq").text_content() == seq  # no delta came meanwhile
    if reduced:
        assert before == after
    else:
        assert before != after


BREATH_FRAMES = """async (frames) => {
    const dots = () => [...document.querySelectorAll('[data-testid=breath-circle] .breath-dot')]
        .map((d) => [d.dataset.sleeper, d.getAttribute('cx'), d.getAttribute('cy')]);
    const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
    await frame();
    const before = dots();
    for (let i = 0; i < frames; i += 1) await frame();
    return [before, dots()];
}"""


def order_above(value: float) -> str:
    return (
        "() => Number(document.querySelector('[data-testid=breath-circle]')"
        f".dataset.order) > {value}"
    )


@pytest.mark.parametrize("reduced", [False, True], ids=["motion", "reduced-motion"])
async def test_the_breathing_circle_shows_who_shares_and_moves_between_deltas(
    pages: Pages, base_url: str, dream_server: DreamServer, reduced: bool
) -> None:
    session = f"breaths-{int(reduced)}"
    url = f"ws://127.0.0.1:{dream_server.port}/{session}"
    async with (
        DreamClient(url, "Kai") as kai,
        DreamClient(url, "Mia") as mia,
        DreamClient(url, "Zara") as zara,  # breathes, but does not share it
    ):
        for sleeper in (kai, mia):
            await sleeper.share(None, show_stage=True)
        page = await pages.blank()
        if reduced:
            await page.emulate_media(reduced_motion="reduce")
        held = [False]
        await page.route_web_socket(re.compile(rf"/{session}$"), hold_deltas(held))
        await page.goto(f"{base_url}/watch/{session}")
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            "connected", timeout=ms(10)
        )
        sharing = sorted(str(sleeper.participant) for sleeper in (kai, mia))
        breathe(dream_server, session, {kai.participant: 0.0, mia.participant: math.pi})
        breathe(dream_server, session, {zara.participant: 1.0})
        circle = page.get_by_test_id("breath-circle")
        dots = circle.locator(".breath-dot")
        await expect(dots).to_have_count(2, timeout=ms(10))
        assert (
            sorted([str(await d.get_attribute("data-sleeper")) for d in await dots.all()])
            == sharing
        )
        kais = circle.locator(f'.breath-dot[data-sleeper="{kai.participant}"] title')
        await expect(kais).to_have_text("Kai")  # the name on hover, not on the circle
        await expect(circle).to_have_attribute("data-order", "0.00")  # half a breath apart
        await expect(circle).to_contain_text("2 sleepers")

        breathe(dream_server, session, dict.fromkeys(sharing, 0.0))  # in step: the dots bunch
        await page.wait_for_function(order_above(0.95), timeout=ms(10))

        held[0] = True  # from now on no delta reaches the page
        seq = await page.get_by_test_id("seq").text_content()
        before, after = await page.evaluate(BREATH_FRAMES, 10)
        assert await page.get_by_test_id("seq").text_content() == seq  # no delta came meanwhile
        assert [d[0] for d in before] == [d[0] for d in after]
        if reduced:
            assert before == after
        else:
            assert all(b[1:] != a[1:] for b, a in zip(before, after, strict=True))
        if not reduced:
            await screenshot(page, "breath-circle")


async def test_on_a_phone_the_breathing_circle_is_in_the_night_drawer(
    pages: Pages, base_url: str, dream_server: DreamServer
) -> None:
    session = "breaths-phone"
    url = f"ws://127.0.0.1:{dream_server.port}/{session}"
    async with DreamClient(url, "Kai") as kai:
        await kai.share(None, show_stage=True)
        page = await sized(await pages.blank(), PHONE)
        await page.goto(f"{base_url}/s/{session}?name=Lyra")
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            "connected", timeout=ms(10)
        )
        await page.get_by_role("tab", name="Night").click()
        breathe(dream_server, session, {str(kai.participant): 0.0})
        circle = page.locator("#drawer-night").get_by_test_id("breath-circle")
        await expect(circle.locator(".breath-dot")).to_have_count(1, timeout=ms(10))
        await circle.scroll_into_view_if_needed()
        await expect(circle.locator("svg")).to_be_visible()
        box = await circle.locator("svg").bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        await screenshot(page, "breath-circle-390")


LAYOUT = """async ([width, height]) => {
    const { layoutLabels } = await import('/static/labels.js');
    const labels = [];
    for (let i = 0; i < 40; i += 1) {  // a pile: many labels about the same few places
        labels.push({ text: `m${i}`, x: 200 + (i % 3) * 8, y: 150 + (i % 4) * 5,
                      width: 60 + (i % 5) * 7, height: 18, strength: (i * 7919) % 101 });
    }
    labels.push({ text: 'edge', x: width + 50, y: -20, width: 80, height: 18, strength: 1000 });
    const strongest = labels.slice(0, 40).reduce((a, b) => (b.strength > a.strength ? b : a));
    // Two labels on one anchor: the weaker goes below when it was below in the last frame.
    const pair = [{ text: 'a', x: 200, y: 150, width: 40, height: 18, strength: 2 },
                  { text: 'b', x: 200, y: 150, width: 40, height: 18, strength: 1 }];
    const spots = (placed) => placed.map((l) => [l.text, l.spot]);
    const fresh = spots(layoutLabels(pair, width, height));
    const kept = spots(layoutLabels(pair, width, height, new Map([['b', 2]])));
    return { placed: layoutLabels(labels, width, height), given: labels.length, strongest,
             fresh, kept };
}"""


async def test_the_canvas_labels_never_cover_each_other(pages: Pages, base_url: str) -> None:
    page = await pages.open(f"{base_url}/")
    width, height = 400, 300
    outcome = await page.evaluate(LAYOUT, [width, height])
    placed = outcome["placed"]
    assert 3 < len(placed) < outcome["given"]  # some were laid out, the weakest left out
    for i, a in enumerate(placed):
        assert a["width"] / 2 <= a["x"] <= width - a["width"] / 2
        assert a["height"] / 2 <= a["y"] <= height - a["height"] / 2
        for b in placed[i + 1 :]:
            apart_x = abs(a["x"] - b["x"]) >= (a["width"] + b["width"]) / 2
            apart_y = abs(a["y"] - b["y"]) >= (a["height"] + b["height"]) / 2
            assert apart_x or apart_y, (a, b)
    strengths = [label["strength"] for label in placed]
    assert strengths == sorted(strengths, reverse=True)
    assert placed[0]["text"] == "edge"  # the strongest, kept on the canvas
    assert outcome["fresh"] == [["a", 0], ["b", 1]]  # the first free spot: just above
    assert outcome["kept"] == [["a", 0], ["b", 2]]  # where it was: just below
    strongest = outcome["strongest"]  # the strongest of the pile, at its own place
    assert (placed[1]["text"], placed[1]["x"], placed[1]["y"]) == (
        strongest["text"], strongest["x"], strongest["y"],
    )  # fmt: skip


COVERED = """async ([width, height]) => {
    const { layoutLabels } = await import('/static/labels.js');
    const labels = [];
    for (let i = 0; i < 30; i += 1) {  // a row of labels across the canvas
        labels.push({ text: `m${i}`, x: 10 + i * 13, y: 150, width: 40, height: 18,
                      strength: i });
    }
    const panel = { x: 60, y: 150, width: 120, height: 300 };  // a side panel over the left
    return { open: layoutLabels(labels, width, height).length,
             placed: layoutLabels(labels, width, height, new Map(), [panel]), panel };
}"""


async def test_no_canvas_label_is_put_under_a_panel(pages: Pages, base_url: str) -> None:
    page = await pages.open(f"{base_url}/")
    outcome = await page.evaluate(COVERED, [400, 300])
    panel, placed = outcome["panel"], outcome["placed"]
    assert 0 < len(placed) < outcome["open"]  # those under the panel went elsewhere or out
    for label in placed:
        apart_x = abs(label["x"] - panel["x"]) >= (label["width"] + panel["width"]) / 2
        apart_y = abs(label["y"] - panel["y"]) >= (label["height"] + panel["height"]) / 2
        assert apart_x or apart_y, label


RENDER = """async () => {
    const { DreamscapeRenderer } = await import('/static/render.js');
    const canvas = document.createElement('canvas');
    canvas.style.width = '400px';
    canvas.style.height = '300px';
    document.body.append(canvas);
    const renderer = new DreamscapeRenderer(canvas);
    const motif = (name) => ({ name, colour: '#8090a0', weight: 1, t: 0, intensity: 1,
                               valence: 0, arousal: 0, x: 0.5, y: 0.5, phase: 0 });
    const lyra = { name: 'Lyra', role: 'dreamer', present: true, devices: 1, stage: null };
    const people = [{ ...lyra, id: 'p1', tag: null }, { ...lyra, id: 'p2', tag: '2' }];
    const state = {
        t: 0, seq: 1, half_life_s: null, mood: { valence: 0, arousal: 0 }, participants: people,
        motifs: Array.from({ length: 12 }, (_, i) => motif(`m${i}`)),
        scene: { fractured: true, harmonizing: false, calm: 0, regions: [
            // participants as the wire writes them: steps between id numbers (p1, p2)
            { id: 0, x: 0.5, y: 0.5, participants: [1, 1], motifs: ['m0', 'm1'] },
            { id: 1, x: 0.2, y: 0.2, participants: [9], motifs: [] },
        ] },
    };
    renderer.update(state, 10);
    renderer.startedAt = -1e9;  // no easing: draw the state as it is
    renderer.running = true;
    renderer.frame(performance.now());
    renderer.stop();
    const ratio = canvas.width / 400;
    const pixel = canvas.getContext('2d').getImageData(
        Math.round(200 * ratio), Math.round(175 * ratio), 1, 1).data;
    const captions = state.scene.regions.map((r) => renderer.regionCaption(r));
    return { pixel: [...pixel], captions };
}"""


async def test_overlapping_blobs_stay_their_colour_and_regions_say_what_they_hold(
    pages: Pages, base_url: str
) -> None:
    page = await pages.open(f"{base_url}/")
    outcome = await page.evaluate(RENDER)
    red, green, blue, _ = outcome["pixel"]
    # Twelve blobs of #8090a0 on one spot: no brighter than one of them (they added up to
    # white before), and still that colour.
    assert max(red, green, blue) <= 0xA0 + 4
    assert blue > 0x60
    assert outcome["captions"] == [["Lyra, Lyra #2", "m0, m1"], ["1 sleeper", "no motif yet"]]
