"""The terminal app against a real dream server, with real peers: what it shows, what it sends."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.field import DreamField
from dreamcommons.client.tui.help import HelpScreen
from dreamcommons.client.tui.panels import PeoplePanel
from dreamcommons.contracts.protocol import DreamscapeState, MotifView, RegionView, SceneView
from tests.conftest import within
from tests.processes import free_port
from tests.tui.conftest import running, shown, type_line, until

pytestmark = pytest.mark.integration


def motifs(state: DreamscapeState) -> dict[str, float]:
    return {m.name: m.valence for m in state.motifs}


async def test_the_app_shows_another_participants_contributions(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Zara") as zara:
        await zara.contribute("moon", intensity=0.9)
        await zara.whisper("meet me by the <b>river</b> [bold]now[/bold]")
        field = app.query_one(DreamField)
        await until(pilot, lambda: "moon" in field.text())
        await until(pilot, lambda: "river" in shown(app, "#whispers"))
        people = app.query_one(PeoplePanel).lines()
        assert any("Zara" in line and "dreamer" in line for line in people)
        assert any("Lyra" in line and "(you)" in line for line in people)
        assert "Zara: meet me by the <b>river</b> [bold]now[/bold]" in shown(app, "#whispers")
        assert "░" in field.text()  # the motif is a blob of shades, not only its name
        assert "joined commons as p1" in shown(app, "#link")


async def test_a_typed_motif_and_whisper_reach_the_others(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Zara") as zara:
        await type_line(pilot, "ember 0.8")
        await type_line(pilot, "/w the river hums")
        state = await zara.wait_for(
            lambda s: "ember" in motifs(s) and len(s.whispers) == 1, within(5)
        )
        assert (state.whispers[0].name, state.whispers[0].text) == ("Lyra", "the river hums")
        await until(
            pilot, lambda: app.notes[-2:] == ["raised ember 0.8, feeling neutral", "whispered"]
        )
        await until(pilot, lambda: "ember" in app.query_one(DreamField).text())


async def test_the_emotion_key_colours_the_next_motif(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Zara") as zara:
        await pilot.press("f4")  # neutral -> calm
        assert app.feeling.name == "calm"
        assert "calm" in shown(app, "#note")
        await type_line(pilot, "lantern")
        await type_line(pilot, "/feel afraid")
        await type_line(pilot, "shadow")
        state = await zara.wait_for(lambda s: {"lantern", "shadow"} <= motifs(s).keys(), within(5))
        assert motifs(state)["lantern"] > 0 > motifs(state)["shadow"]


async def test_the_share_level_is_sent(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Zara") as zara:
        await type_line(pilot, "moon")
        await zara.wait_for(lambda s: "moon" in motifs(s), within(5))
        await pilot.press("f5")
        assert app.query_one("#command").value == "/share "  # type: ignore[attr-defined]
        await type_line(pilot, "0")
        await zara.wait_for(lambda s: "moon" not in motifs(s), within(5))
        await until(pilot, lambda: "sharing 0% of your dream" in shown(app, "#note"))
        await until(pilot, lambda: "moon" not in app.query_one(DreamField).text())


async def test_nonsense_is_explained_and_refusals_are_shown(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot:
        await type_line(pilot, "/share 2")
        assert shown(app, "#note") == "! share level must be from 0 to 1, not 2"
        assert app.query_one("#note").has_class("error")
        await type_line(pilot, "/harmonize")
        await until(pilot, lambda: "only the host may do that" in shown(app, "#note"))
        await type_line(pilot, "/pair ABCD-2345-67")
        await until(
            pilot, lambda: app.notes[-1] == "! no_devices: this server has no device broker"
        )
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "/feel calm" in str(app.screen.query_one("#help", Static).content)


async def test_a_fractured_scene_shows_split_while_the_server_is_unreachable() -> None:
    app = DreamApp(f"ws://127.0.0.1:{free_port()}/commons", "Lyra")
    async with running(app, join=False) as pilot:
        await until(pilot, lambda: "cannot reach" in " ".join(app.statuses))
        scene = SceneView(
            phase="dream",
            fractured=True,
            coherence=0.21,
            sleepers=3,
            regions=(
                RegionView(id=0, x=0.2, y=0.3, participants=("p1",), motifs=("moon",)),
                RegionView(id=1, x=0.8, y=0.7, participants=("p2", "p3"), motifs=()),
            ),
        )
        moon = MotifView(
            name="moon", colour="#e0e0ff", weight=1.0, intensity=0.8,
            valence=0.2, arousal=0.3, x=0.2, y=0.5, t=0.0, phase=0.0,
        )  # fmt: skip
        app.show_state(DreamscapeState(session="commons", venue="sleep-commons",
                                       motifs=(moon,), scene=scene), 10.0)  # fmt: skip
        field = app.query_one(DreamField)
        await until(pilot, lambda: "◇2" in field.text())
        assert "◇1" in field.text()
        assert {"│", "─", "┼"} & set(field.text())
        assert "moon" in field.text()
        assert "FRACTURED into 2 regions" in shown(app, "#scene")
        assert "0.21 (3 sleepers)" in shown(app, "#scene")
