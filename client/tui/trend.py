"""The sleepers' coherence over the last minutes, as a sparkline beside what chance would give.

``CoherenceHistory`` keeps a bounded run of the coherence of the states the app received (one
value a state that carries one); ``CoherenceTrend`` draws it with Textual's ``Sparkline`` and
the latest chance baseline as text, so that "above chance" can be read at a glance.
"""

from __future__ import annotations

from collections import deque
from statistics import fmean
from typing import Final

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from dreamcommons.contracts.protocol import SceneView

HISTORY: Final = 3000  # five minutes of states at ten a second


class CoherenceHistory:
    """The coherence of the last ``limit`` states that carried one, oldest first."""

    def __init__(self, limit: int = HISTORY) -> None:
        self.values: deque[float] = deque(maxlen=limit)
        self.chance: float | None = None

    def add(self, scene: SceneView) -> None:
        """Take one state's scene: its coherence joins the run, its chance is the latest."""
        self.chance = scene.chance
        if scene.coherence is not None:
            self.values.append(scene.coherence)


def chance_text(chance: float | None) -> str:
    return " chance —" if chance is None else f" chance {chance:.2f}"


class CoherenceTrend(Horizontal):
    """One line: a label, the sparkline of the coherence, and the chance baseline."""

    DEFAULT_CSS = """
    CoherenceTrend { height: 1; }
    CoherenceTrend > #trend-label { width: 11; color: $text; }
    CoherenceTrend > Sparkline { width: 1fr; }
    CoherenceTrend > Sparkline > .sparkline--max-color { color: #7fb7be; }
    CoherenceTrend > Sparkline > .sparkline--min-color { color: #7fb7be 35%; }
    CoherenceTrend > #chance { width: auto; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = CoherenceHistory()
        self._chance: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(" over time", id="trend-label")
        yield Sparkline([], summary_function=fmean, id="coherence-trend")
        yield Static(chance_text(None), id="chance", markup=False)

    def add(self, scene: SceneView) -> None:
        """One more state: the sparkline redraws with its coherence, the baseline with its
        chance."""
        self.history.add(scene)
        self.query_one(Sparkline).data = list(self.history.values)
        if self.history.chance != self._chance:
            self._chance = self.history.chance
            self.query_one("#chance", Static).update(chance_text(self._chance))
