"""The terminal app at 80x24 and at 160x48: the dreamscape keeps most of a small terminal, the
side panels come back in a wide one, one's own row stays in view, the coherence sparkline
follows the states, and ``/help`` lists every command of the role."""

from __future__ import annotations

from typing import get_args

import pytest
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Button, OptionList, Sparkline, Static

from dreamcommons.client.commands import help_lines
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.field import DreamField
from dreamcommons.client.tui.help import HelpScreen
from dreamcommons.client.tui.panels import PeoplePanel
from dreamcommons.client.tui.trend import CoherenceTrend
from dreamcommons.contracts.protocol import DreamscapeState, ParticipantView, Role, SceneView
from tests.processes import free_port
from tests.tui.conftest import running, shown, type_line, until

pytestmark = pytest.mark.integration

SMALL = (80, 24)
WIDE = (160, 48)


def unreachable() -> str:
    return f"ws://127.0.0.1:{free_port()}/commons"


def on_screen(widget: Widget) -> bool:
    """Whether ``widget`` is drawn where the screen shows it: its first cell is its own."""
    region = widget.region
    if not region.area:
        return False
    at, _ = widget.screen.get_widget_at(region.x, region.y)
    return at is widget or widget in at.ancestors


async def test_at_80x24_the_dreamscape_keeps_most_of_the_width(server_url: str) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app, size=SMALL) as pilot, DreamClient(server_url, "Zara") as zara:
        await zara.contribute("moon", intensity=0.9)
        await zara.whisper("the tide is in")
        field = app.query_one(DreamField)
        await until(pilot, lambda: "moon" in field.text())
        assert field.outer_size.width >= 0.6 * SMALL[0]
        for panel in ("#scene-panel", "#people", "#whispers"):
            assert on_screen(app.query_one(panel)), panel
        assert not app.query_one("#devices").display
        await until(pilot, lambda: "Zara: the tide is in" in shown(app, "#whispers"))
        assert app.query_one(Sparkline).size.width >= 12  # the meters' label gives way to it
        meters = shown(app, "#scene").splitlines()
        assert max(map(len, meters)) <= app.query_one("#scene").content_size.width

        await pilot.resize_terminal(*WIDE)
        await until(pilot, lambda: on_screen(app.query_one("#devices")))
        assert app.query_one("#side").outer_size.width == 54
        assert "(0 sleepers)" in shown(app, "#scene")  # room again for the count


async def test_at_160x48_the_side_panels_show() -> None:
    app = DreamApp(unreachable(), "Lyra")
    async with running(app, join=False, size=WIDE) as pilot:
        for panel in ("#scene-panel", "#people", "#devices", "#whispers"):
            assert on_screen(app.query_one(panel)), panel
        await pilot.press("f7")  # the whole width to the dreamscape
        assert not on_screen(app.query_one("#people"))
        assert app.query_one(DreamField).outer_size.width == WIDE[0]
        await pilot.press("f7")
        await until(pilot, lambda: on_screen(app.query_one("#people")))


async def test_ones_own_row_stays_in_view_among_fifty() -> None:
    app = DreamApp(unreachable(), "Lyra")
    async with running(app, join=False, size=SMALL) as pilot:
        people = [
            ParticipantView(id=f"p{n}", name=f"Dreamer{n}", role="dreamer") for n in range(1, 51)
        ]
        panel = app.query_one(PeoplePanel)
        panel.show(people, "p37", "50 here")
        await pilot.pause()
        you = panel.query_one("#you", Static)
        assert on_screen(you)
        assert panel.lines()[0] == "● Dreamer37 (you) p37  dreamer"
        assert len(panel.lines()) == 50
        panel.highlight("p50")  # the list scrolls to the last one; one's own row stays
        await pilot.pause()
        others = panel.query_one(OptionList)
        assert others.scroll_y > 0
        assert on_screen(you)
        assert panel.selected() == "p50"


def scene(coherence: float | None, chance: float | None) -> DreamscapeState:
    view = SceneView(phase="dream", coherence=coherence, chance=chance, sleepers=8)
    return DreamscapeState(session="commons", venue="sleep-commons", scene=view)


async def test_the_sparkline_takes_a_value_a_state_beside_the_chance_baseline() -> None:
    app = DreamApp(unreachable(), "Lyra")
    async with running(app, join=False, size=SMALL) as pilot:
        rising = [0.2, 0.35, 0.35, 0.6, 0.8, 0.9]
        for coherence in rising:
            app.show_state(scene(coherence, 0.32), 10.0)
        trend = app.query_one(CoherenceTrend)
        assert list(trend.history.values) == rising  # the same value twice is two states
        assert list(trend.query_one(Sparkline).data or ()) == rising
        await pilot.pause()
        assert shown(app, "#chance") == " chance 0.32"
        assert on_screen(trend.query_one(Sparkline))
        app.show_state(scene(None, None), 10.0)  # too few sleepers: no value, no baseline
        assert len(trend.history.values) == len(rising)
        await until(pilot, lambda: shown(app, "#chance") == " chance —")


@pytest.mark.parametrize("role", get_args(Role))
async def test_help_lists_every_command_of_the_role_at_80x24(role: Role) -> None:
    app = DreamApp(unreachable(), "Lyra", role=role, key="k" if role == "host" else None)
    async with running(app, join=False, size=SMALL) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help", Static)
        assert isinstance(box.content, Text)
        assert box.content.plain.splitlines() == help_lines(role)
        await pilot.pause()
        assert box.content_size.width >= max(map(len, help_lines(role)))  # nothing cut off
        assert box.content_size.height == len(help_lines(role))
        await pilot.press("x")
        assert not isinstance(app.screen, HelpScreen)
        await type_line(pilot, "/help")
        assert isinstance(app.screen, HelpScreen)


async def test_the_host_controls_fit_80_columns() -> None:
    app = DreamApp(unreachable(), "Host", role="host", key="k")
    async with running(app, join=False, size=SMALL) as pilot:
        await pilot.pause()
        buttons = list(app.query(Button))
        assert len(buttons) == 7
        assert all(on_screen(button) and button.region.right <= SMALL[0] for button in buttons)
        assert "✕ remove" in str(app.query_one("#host-remove", Button).label)
        await pilot.resize_terminal(*WIDE)
        await until(
            pilot, lambda: str(app.query_one("#host-remove", Button).label) == "✕ remove selected"
        )


@pytest.mark.parametrize(
    ("role", "keys"),
    [
        ("dreamer", {"f1", "f2", "f3", "f4", "f5", "f6", "f7"}),
        ("watcher", {"f1", "f7"}),
        ("host", {"f1", "f7"}),
    ],
)
async def test_the_footer_offers_the_keys_of_the_roles_commands(role: Role, keys: set[str]) -> None:
    app = DreamApp(unreachable(), "Lyra", role=role, key="k" if role == "host" else None)
    async with running(app, join=False, size=SMALL) as pilot:
        await pilot.pause()
        offered = {key for key in app.screen.active_bindings if key.startswith("f")}
        assert offered == keys
