"""The side panels: the scene's meters, who is here, your devices, and the whispers.

Everything a participant typed (names, whispers) is shown as literal text: panels build Rich
``Text`` objects and never parse markup, so ``<b>`` or ``[bold]`` in a whisper shows as typed.
Each panel redraws only when its part of the state changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from dreamcommons.client.plain_view import mood_words
from dreamcommons.client.tui.trend import CoherenceTrend
from dreamcommons.contracts.motion import phase_remaining
from dreamcommons.contracts.protocol import (
    DreamscapeState,
    Mood,
    Paired,
    ParticipantView,
    SceneView,
    WhisperView,
)

BAR = 20
WHISPERS_SHOWN = 12


def unit_bar(value: float, width: int = BAR) -> str:
    """``value`` in 0..1 as a bar of full and light blocks."""
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "░" * (width - filled)


def signed_bar(value: float, width: int = BAR) -> str:
    """``value`` in -1..1 as a bar that grows left or right of a centre mark."""
    half = width // 2
    reach = round(max(-1.0, min(1.0, value)) * half)
    left = "░" * (half + min(0, reach)) + "█" * -min(0, reach)
    right = "█" * max(0, reach) + "░" * (half - max(0, reach))
    return left + "┃" + right


METER_LABEL = 11  # " coherence "
METER_VALUE = 6  # "  0.71", " +0.25"
SLEEPERS = 13  # " (3 sleepers)"


def meter_width(room: int | None) -> int:
    """How wide the meters' bars are in a panel ``room`` cells wide inside (``BAR`` when
    unknown): as wide as fits beside their labels and values, from 4 to ``BAR``."""
    if room is None:
        return BAR
    return max(4, min(BAR, room - METER_LABEL - METER_VALUE))


def scene_text(mood: Mood, scene: SceneView, now: float = 0.0, room: int | None = None) -> Text:
    """Mood (valence, arousal) and the scene's coherence, fracture, calm and phase as meters,
    the bars fitted to ``room`` cells; the sleepers' count when there is room for it."""
    bar = meter_width(room)
    sleepers = (
        f" ({scene.sleepers} sleepers)"
        if room is None or room >= METER_LABEL + bar + METER_VALUE + SLEEPERS
        else ""
    )
    text = Text()
    text.append("mood ", style="bold")
    text.append(mood_words(mood.valence, mood.arousal) + "\n", style="italic")
    text.append(" valence   ")
    text.append(signed_bar(mood.valence, bar), style="#f2c57c" if mood.valence >= 0 else "#8e7dbe")
    text.append(f" {mood.valence:+.2f}\n")
    text.append(" arousal   ")
    text.append(unit_bar(mood.arousal, bar), style="#dd7373")
    text.append(f"  {mood.arousal:.2f}\n")
    text.append(" coherence ")
    if scene.coherence is None:
        text.append(unit_bar(0.0, bar), style="dim")
        text.append(f"  — {sleepers}\n", style="dim")
    else:
        ink = "#dd7373" if scene.fractured else "#7fb7be"
        text.append(unit_bar(scene.coherence, bar), style=ink)
        text.append(f"  {scene.coherence:.2f}{sleepers}\n")
    text.append("phase ", style="bold")
    text.append(scene.phase)
    remaining = phase_remaining(scene, now)
    if remaining is not None:
        minutes, seconds = divmod(math.ceil(remaining), 60)
        text.append(f"  {minutes}:{seconds:02d} left")
    if scene.paused:
        text.append("  PAUSED", style="bold #f2c57c")
    flags = Text()
    if scene.fractured:
        flags.append(f" FRACTURED into {len(scene.regions)} regions ", style="bold reverse #dd7373")
        flags.append(" ")
    if scene.harmonizing:
        flags.append(" harmonizing ", style="bold reverse #7fb7be")
        flags.append(" ")
    if scene.calm > 0:
        flags.append(f"calming {scene.calm:.0%}", style="#8fb339")
    if flags:
        text.append("\n")
        text.append_text(flags)
    return text


class SceneMeters(Widget):
    """The meters' text, drawn at the width the widget has as it is drawn."""

    DEFAULT_CSS = "SceneMeters { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: tuple[Mood, SceneView, float] = (Mood(), SceneView(), 0.0)

    def show(self, mood: Mood, scene: SceneView, now: float) -> None:
        self.shown = (mood, scene, now)
        self.refresh(layout=True)

    def text(self, room: int | None = None) -> Text:
        return scene_text(*self.shown, room=room or self.content_size.width or None)

    def render(self) -> Text:
        return self.text()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.text(width).wrap(self.app.console, max(1, width)))


class ScenePanel(Vertical):
    """Mood and coherence meters, the coherence over time against chance, the phase, and the
    fracture/harmonizing/calm flags; the bars fit the panel's width."""

    DEFAULT_CSS = "ScenePanel { height: auto; border: round $primary-darken-2; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "scene"

    def compose(self) -> ComposeResult:
        yield SceneMeters(id="scene")
        yield CoherenceTrend(id="trend")

    def show(self, state: DreamscapeState) -> None:
        self.query_one(CoherenceTrend).add(state.scene)
        meters = self.query_one(SceneMeters)
        if meters.shown[:2] != (state.mood, state.scene):
            meters.show(state.mood, state.scene, state.t)


STAGES: dict[str, tuple[str, str, str]] = {  # stage: icon, word, colour
    "awake": ("☀", "awake", "#f2c57c"),
    "light": ("☾", "light sleep", "#8e9aff"),
    "deep": ("◉", "deep sleep", "#6a5acd"),
    "rem": ("✦", "REM", "#dd7fd0"),
}


def participant_text(person: ParticipantView, me: str, *, pinned: bool = False) -> Text:
    """One line: presence, name, role, sleep stage (for those who share it), devices; one's
    own row ``pinned`` says "(you)" by the name, where a narrow panel still shows it."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if person.present else "○ ", style="#8fb339" if person.present else "dim")
    text.append(person.name, style="bold" if person.id == me else "")
    if person.tag:
        text.append(f" #{person.tag}", style="bold #e0a458")
    if pinned:
        text.append(" (you)", style="bold #7fb7be")
    text.append(f" {person.id}", style="dim")
    text.append(f"  {person.role}", style="italic")
    if person.stage in STAGES:
        icon, word, colour = STAGES[person.stage]
        text.append(f"  {icon} {word}", style=colour)
    if person.devices:
        text.append(f"  ⌁{person.devices} device{'s' if person.devices > 1 else ''}")
    if not person.present:
        text.append("  away", style="dim")
    if person.id == me and not pinned:
        text.append("  (you)", style="dim")
    return text


class PeoplePanel(Vertical):
    """Who is here, one line each, one's own row pinned above the others however many are
    listed; the highlighted one of the others is the host's "selected participant"."""

    DEFAULT_CSS = """
    PeoplePanel { height: 1fr; border: round $primary-darken-2; }
    PeoplePanel > #you { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    PeoplePanel > OptionList { height: 1fr; border: none; padding: 0 1; }
    PeoplePanel > OptionList:focus { border: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "here"
        self._shown: tuple[Sequence[ParticipantView], str] | None = None

    def compose(self) -> ComposeResult:
        you = Static(id="you", markup=False)
        you.display = False
        yield you
        yield OptionList(markup=False, id="others")

    def show(self, people: Sequence[ParticipantView], me: str, count: str = "") -> None:
        self.border_title = f"here · {count}" if count else "here"
        if self._shown == (people, me):
            return
        mine = next((p for p in people if p.id == me), None)
        you = self.query_one("#you", Static)
        you.display = mine is not None  # a large room may list only its hosts and stages
        if mine is not None:
            you.update(participant_text(mine, me, pinned=True))
        others = self.query_one(OptionList)
        selected = self.selected()
        listed = [p for p in people if p.id != me]
        others.set_options(Option(participant_text(p, me), id=p.id) for p in listed)
        if selected is not None:
            self.highlight(selected)
        self._shown = (people, me)  # last: a list that could not be drawn yet is drawn next time

    def selected(self) -> str | None:
        """The id of the highlighted participant, if any."""
        option = self.query_one(OptionList).highlighted_option
        return None if option is None else option.id

    def highlight(self, participant: str) -> None:
        """Highlight ``participant`` among the others, when listed."""
        others = self.query_one(OptionList)
        ids = [option.id for option in others.options]
        if participant in ids:
            others.highlighted = ids.index(participant)

    def lines(self) -> list[str]:
        """Every row shown, one's own first."""
        you = self.query_one("#you", Static)
        own = [str(you.content)] if you.display else []
        return own + [str(option.prompt) for option in self.query_one(OptionList).options]


def whispers_text(whispers: Sequence[WhisperView], room: tuple[int, int] | None = None) -> Text:
    """The latest whispers, oldest first: as many of the last ``WHISPERS_SHOWN`` as fit in
    ``room`` (columns, rows) as they wrap, so that a short panel still shows the newest."""
    lines = [_whisper_line(whisper) for whisper in whispers[-WHISPERS_SHOWN:]]
    if room is not None:
        width, rows = max(1, room[0]), room[1]
        while lines and sum(math.ceil(len(line) / width) for line in lines) > rows:
            del lines[0]
    text = Text("\n").join(lines)
    if not whispers:
        text.append("(no whispers yet: '/w words')", style="dim")
    return text


def _whisper_line(whisper: WhisperView) -> Text:
    text = Text()
    text.append(whisper.name, style="bold #7fb7be")
    if whisper.tag:
        text.append(f" #{whisper.tag}", style="bold #e0a458")
    text.append(": ")
    text.append(whisper.text)
    return text


class WhispersPanel(Static):
    """The latest whispers, as literal text, the newest always in view."""

    DEFAULT_CSS = "WhispersPanel { height: 1fr; border: round $primary-darken-2; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(whispers_text(()), markup=False, id=id)
        self.border_title = "whispers"
        self._shown: Sequence[WhisperView] = ()

    def show(self, whispers: Sequence[WhisperView]) -> None:
        if self._shown == whispers:
            return
        self._shown = whispers
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        room = self.content_size
        fits = (room.width, room.height) if room.area else None
        self.update(whispers_text(self._shown, fits))


def devices_text(paired: Sequence[Paired], reported: int) -> Text:
    """The devices you paired here, and how many the server counts as shaping your dream."""
    text = Text()
    for device in paired:
        text.append("⌁ ", style="#8fb339")
        text.append(device.device, style="bold")
        text.append(f"  {device.kind} · {device.model}\n", style="dim")
    if reported:
        plural = "s" if reported > 1 else ""
        text.append(f"{reported} device{plural} shaping your dream", style="#8fb339")
    else:
        text.append("no device paired: '/pair CODE' (F6)", style="dim")
    return text


class DevicesPanel(Static):
    """Your devices: the ones paired from this console and the count the server reports."""

    DEFAULT_CSS = "DevicesPanel { height: auto; border: round $primary-darken-2; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(devices_text((), 0), markup=False, id=id)
        self.border_title = "devices"
        self.paired: list[Paired] = []
        self._reported = 0

    def add(self, device: Paired) -> None:
        self.paired = [d for d in self.paired if d.device != device.device] + [device]
        self.update(devices_text(self.paired, self._reported))

    def show(self, people: Sequence[ParticipantView], me: str) -> None:
        reported = next((p.devices for p in people if p.id == me), 0)
        if reported != self._reported:
            self._reported = reported
            self.update(devices_text(self.paired, reported))
