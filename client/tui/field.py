"""The dreamscape widget: each motif where its parameters put it now, drawn ~20 times a second.

``DreamField`` holds the newest state's motif views and the session time of its arrival; each
frame it computes every motif's weight and place at the session's time now
(``contracts.motion``: decay and orbit), easing over one tick (1/tick_hz) from where a motif
was drawn when a new state moved it, draws into its ``FieldCanvas`` (reused buffers) and
refreshes only itself, and only when a visible cell changed.
"""

from __future__ import annotations

import time

from textual.events import Resize
from textual.strip import Strip
from textual.widget import Widget

from dreamcommons.client.tui.canvas import FieldCanvas, Placed
from dreamcommons.contracts.motion import motif_at
from dreamcommons.contracts.protocol import DreamscapeState, MotifView, SceneView

FPS = 20.0


class DreamField(Widget):
    """The shared dreamscape, drawn as a field of coloured shade characters."""

    DEFAULT_CSS = """
    DreamField { width: 1fr; height: 1fr; border: round $primary-darken-2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.canvas = FieldCanvas()
        self.frames = 0
        self._scene = SceneView()
        self._half_life: float | None = None
        self._from: dict[str, tuple[float, float]] = {}
        self._to: dict[str, MotifView] = {}
        self._started = 0.0
        self._session_t = 0.0  # the session's time when the newest state arrived (``_started``)
        self._duration = 0.1
        self._dirty = True
        self._last_key: object = None

    def on_mount(self) -> None:
        self.set_interval(1.0 / FPS, self._frame, name="field-frame")

    def on_resize(self, event: Resize) -> None:
        self.canvas.resize(event.size.width, event.size.height)
        self._dirty = True
        self._frame()

    def show(self, state: DreamscapeState, tick_hz: float) -> None:
        """Move towards ``state``: from where each motif is drawn now, over one tick."""
        now = time.monotonic()
        here = {m.name: (m.x, m.y) for m in self._placed(now)}
        self._to = {m.name: m for m in state.motifs}
        self._half_life = state.half_life_s
        self._scene = state.scene
        self._started = now
        self._session_t = state.t
        self._from = {name: here[name] for name in self._to if name in here}
        self._duration = 1.0 / tick_hz if tick_hz > 0 else 0.0
        self._dirty = True

    def _placed(self, now: float) -> list[Placed]:
        progress = 1.0
        if self._duration > 0:
            progress = min(1.0, (now - self._started) / self._duration)
        session_now = self._session_t + (now - self._started)
        placed = []
        for name, view in self._to.items():
            motif = motif_at(view, session_now, self._half_life)
            x0, y0 = self._from.get(name, (motif.x, motif.y))
            x = x0 + (motif.x - x0) * progress
            y = y0 + (motif.y - y0) * progress
            placed.append(Placed(name, motif.colour, motif.weight, motif.intensity, x, y))
        return placed

    def _frame(self) -> None:
        """One animation frame; draws only when something visible moved or changed."""
        now = time.monotonic()
        if not (self._dirty or self._to):
            return  # nothing drifts in an empty field
        self._dirty = False
        placed = self._placed(now)
        canvas = self.canvas
        key = (
            canvas.width,
            canvas.height,
            self._scene.fractured and self._scene.regions,
            tuple(
                (
                    m.name,
                    m.colour,
                    round(m.weight, 2),
                    round(m.intensity, 2),
                    *canvas.cell(m.x, m.y),
                )
                for m in placed
            ),
        )
        if key == self._last_key:
            return
        self._last_key = key
        canvas.draw(placed, self._scene)
        self.frames += 1
        self.refresh()

    def render_line(self, y: int) -> Strip:
        return self.canvas.strip(y)

    def text(self) -> str:
        """What the field shows, as plain text."""
        return "\n".join(self.canvas.lines())
