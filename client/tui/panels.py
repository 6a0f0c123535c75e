"""The side panels: the scene's meters, who is here, your devices, and the whispers.

Everything a participant typed (names, whispers) is shown as literal text: panels build Rich
``Text`` objects and never parse markup, so ``<b>`` or ``[bold]`` in a whisper shows as typed.
Each panel redraws only when its part of the state changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from dreamcommons.client.plain_view import mood_words
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


def scene_text(mood: Mood, scene: SceneView, now: float = 0.0) -> Text:
    """Mood (valence, arousal) and the scene's coherence, fracture, calm and phase as meters."""
    text = Text()
    text.append("mood ", style="bold")
    text.append(mood_words(mood.valence, mood.arousal) + "\n", style="italic")
    text.append(" valence   ")
    text.append(signed_bar(mood.valence), style="#f2c57c" if mood.valence >= 0 else "#8e7dbe")
    text.append(f" {mood.valence:+.2f}\n")
    text.append(" arousal   ")
    text.append(unit_bar(mood.arousal), style="#dd7373")
    text.append(f"  {mood.arousal:.2f}\n")
    text.append(" coherence ")
    if scene.coherence is None:
        text.append(unit_bar(0.0), style="dim")
        text.append(f"  —  ({scene.sleepers} sleepers)\n", style="dim")
    else:
        ink = "#dd7373" if scene.fractured else "#7fb7be"
        text.append(unit_bar(scene.coherence), style=ink)
        text.append(f"  {scene.coherence:.2f} ({scene.sleepers} sleepers)\n")
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


class ScenePanel(Static):
    """Mood and coherence meters, the phase, and the fracture/harmonizing/calm flags."""

    DEFAULT_CSS = "ScenePanel { height: auto; border: round $primary-darken-2; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(scene_text(Mood(), SceneView()), markup=False, id=id)
        self.border_title = "scene"
        self._shown: tuple[Mood, SceneView] | None = None

    def show(self, state: DreamscapeState) -> None:
        if self._shown == (state.mood, state.scene):
            return
        self._shown = (state.mood, state.scene)
        self.update(scene_text(state.mood, state.scene, state.t))


STAGES: dict[str, tuple[str, str, str]] = {  # stage: icon, word, colour
    "awake": ("☀", "awake", "#f2c57c"),
    "light": ("☾", "light sleep", "#8e9aff"),
    "deep": ("◉", "deep sleep", "#6a5acd"),
    "rem": ("✦", "REM", "#dd7fd0"),
}


def participant_text(person: ParticipantView, me: str) -> Text:
    """One line: presence, name, role, sleep stage (for those who share it), devices."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if person.present else "○ ", style="#8fb339" if person.present else "dim")
    text.append(person.name, style="bold" if person.id == me else "")
    if person.tag:
        text.append(f" #{person.tag}", style="bold #e0a458")
    text.append(f" {person.id}", style="dim")
    text.append(f"  {person.role}", style="italic")
    if person.stage in STAGES:
        icon, word, colour = STAGES[person.stage]
        text.append(f"  {icon} {word}", style=colour)
    if person.devices:
        text.append(f"  ⌁{person.devices} device{'s' if person.devices > 1 else ''}")
    if not person.present:
        text.append("  away", style="dim")
    if person.id == me:
        text.append("  (you)", style="dim")
    return text


class PeoplePanel(OptionList):
    """Who is here, one line each; the highlighted one is the host's "selected participant"."""

    DEFAULT_CSS = "PeoplePanel { height: 1fr; border: round $primary-darken-2; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.border_title = "here"
        self._shown: tuple[Sequence[ParticipantView], str] | None = None

    def show(self, people: Sequence[ParticipantView], me: str, count: str = "") -> None:
        self.border_title = f"here · {count}" if count else "here"
        if self._shown == (people, me):
            return
        self._shown = (people, me)
        selected = self.selected()
        self.set_options(Option(participant_text(p, me), id=p.id) for p in people)
        ids = [p.id for p in people]
        if selected in ids:
            self.highlighted = ids.index(selected)

    def selected(self) -> str | None:
        """The id of the highlighted participant, if any."""
        option = self.highlighted_option
        return None if option is None else option.id

    def lines(self) -> list[str]:
        return [str(option.prompt) for option in self.options]


def whispers_text(whispers: Sequence[WhisperView]) -> Text:
    text = Text()
    for whisper in whispers[-WHISPERS_SHOWN:]:
        text.append(whisper.name, style="bold #7fb7be")
        if whisper.tag:
            text.append(f" #{whisper.tag}", style="bold #e0a458")
        text.append(": ")
        text.append(whisper.text)
        text.append("\n")
    if not whispers:
        text.append("(no whispers yet: '/w words')", style="dim")
    text.rstrip()
    return text


class WhispersPanel(Static):
    """The latest whispers, as literal text."""

    DEFAULT_CSS = "WhispersPanel { height: 1fr; border: round $primary-darken-2; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(whispers_text(()), markup=False, id=id)
        self.border_title = "whispers"
        self._shown: Sequence[WhisperView] | None = None

    def show(self, whispers: Sequence[WhisperView]) -> None:
        if self._shown == whispers:
            return
        self._shown = whispers
        self.update(whispers_text(whispers))


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
