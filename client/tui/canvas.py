"""Pure drawing of the dreamscape into a grid of character cells, one ``Strip`` per row.

Each motif is a blob of shade characters (``░▒▓█``) in its colour, its radius growing with the
square root of its weight and its density with its intensity, its name on top; a fractured
scene tints each region (the cells nearest its centre) and draws the boundaries between them.
No Textual widget here: ``FieldCanvas`` can be drawn and read in a plain unit test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from dreamcommons.contracts.protocol import RegionView, SceneView

SHADES = "░▒▓█"  # light to full, chosen by a cell's density
BOUNDARY = {(True, False): "│", (False, True): "─", (True, True): "┼"}
_REGION_TINTS = ("#141b2d", "#2a1730", "#132a22", "#2d2413", "#10282d", "#2d1318")
_BOUNDARY_INK = "#8a90b0"


class Placed(NamedTuple):
    """A motif where this frame draws it."""

    name: str
    colour: str
    weight: float
    intensity: float
    x: float
    y: float


class FieldCanvas:
    """A grid of cells (character, style), drawn whole, read a row at a time."""

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self._chars: list[list[str]] = []
        self._styles: list[list[Style]] = []
        self._density: list[list[float]] = []
        self._tint: list[list[str | None]] = []
        self._strips: list[Strip | None] = []
        self._styles_cache: dict[tuple[str, str | None], Style] = {}
        self._regions_key: object = None
        self._region_of: list[list[int]] = []
        self.base = Style()

    def resize(self, width: int, height: int) -> None:
        if (width, height) == (self.width, self.height):
            return
        self.width, self.height = max(0, width), max(0, height)
        self._chars = [[" "] * self.width for _ in range(self.height)]
        self._styles = [[self.base] * self.width for _ in range(self.height)]
        self._density = [[0.0] * self.width for _ in range(self.height)]
        self._tint = [[None] * self.width for _ in range(self.height)]
        self._strips = [None] * self.height
        self._regions_key = None

    # --- drawing -------------------------------------------------------------------------

    def draw(self, motifs: Sequence[Placed], scene: SceneView) -> None:
        """Redraw everything: background (regions when fractured), blobs, then labels."""
        self._strips = [None] * self.height
        if not self.width or not self.height:
            return
        self._draw_background(scene)
        heaviest = max((m.weight for m in motifs), default=0.0)
        scale = max(heaviest, 1.0)
        ordered = sorted(motifs, key=lambda m: (m.weight, m.name))
        for motif in ordered:
            self._draw_blob(motif, scale)
        if scene.fractured and len(scene.regions) > 1:
            self._draw_region_marks(scene.regions)
        taken: set[tuple[int, int]] = set()
        for motif in reversed(ordered):  # the heaviest label first; it keeps its place
            self._draw_label(motif, taken)

    def _draw_background(self, scene: SceneView) -> None:
        regions = scene.regions if scene.fractured else ()
        if len(regions) < 2:
            for y in range(self.height):
                self._chars[y][:] = [" "] * self.width
                self._styles[y][:] = [self.base] * self.width
                self._density[y][:] = [0.0] * self.width
                self._tint[y][:] = [None] * self.width
            return
        owner = self._regions(regions)
        tints = [self._style(None, tint) for tint in _REGION_TINTS]
        lines = [self._style(_BOUNDARY_INK, tint) for tint in _REGION_TINTS]
        last_y, last_x = self.height - 1, self.width - 1
        for y in range(self.height):
            row, styles, density, here = self._chars[y], self._styles[y], self._density[y], owner[y]
            tint = self._tint[y]
            below = owner[y + 1] if y < last_y else here
            for x in range(self.width):
                mine = here[x] % len(tints)
                split_x = x < last_x and here[x + 1] != here[x]
                split_y = below[x] != here[x]
                density[x] = 0.0
                tint[x] = _REGION_TINTS[mine]
                if split_x or split_y:
                    row[x] = BOUNDARY[split_x, split_y]
                    styles[x] = lines[mine]
                else:
                    row[x] = " "
                    styles[x] = tints[mine]

    def _draw_region_marks(self, regions: Sequence[RegionView]) -> None:
        """A small numbered mark at each region's centre, above the blobs."""
        for region in regions:
            x, y = self.cell(region.x, region.y)
            for i, char in enumerate(f"◇{region.id + 1}"[: self.width - x]):
                self._chars[y][x + i] = char
                self._styles[y][x + i] = self._style(_BOUNDARY_INK, self._tint[y][x + i])

    def _regions(self, regions: Sequence[RegionView]) -> list[list[int]]:
        """Which region each cell belongs to (the nearest centre), cached per layout."""
        key = (self.width, self.height, tuple(regions))
        if key == self._regions_key:
            return self._region_of
        centres = [self._cell_f(r.x, r.y) for r in regions]
        self._region_of = [
            [_nearest(x, y, centres) for x in range(self.width)] for y in range(self.height)
        ]
        self._regions_key = key
        return self._region_of

    def _draw_blob(self, motif: Placed, scale: float) -> None:
        ry = max(0.6, self.radius_rows() * math.sqrt(motif.weight / scale))
        rx = 2.0 * ry  # a cell is about twice as tall as it is wide
        cx, cy = self._cell_f(motif.x, motif.y)
        strength = 0.35 + 0.65 * motif.intensity
        colour = motif.colour
        top, bottom = max(0, math.floor(cy - ry)), min(self.height - 1, math.ceil(cy + ry))
        left, right = max(0, math.floor(cx - rx)), min(self.width - 1, math.ceil(cx + rx))
        for y in range(top, bottom + 1):
            dy = (y - cy) / ry
            row, styles, density = self._chars[y], self._styles[y], self._density[y]
            tint = self._tint[y]
            for x in range(left, right + 1):
                dx = (x - cx) / rx
                d2 = dx * dx + dy * dy
                if d2 > 1.0:
                    continue
                value = strength * (1.0 - d2)
                if value <= density[x]:
                    continue
                density[x] = value
                row[x] = SHADES[min(3, int(value * 4.0))]
                styles[x] = self._style(colour, tint[x])

    def _draw_label(self, motif: Placed, taken: set[tuple[int, int]]) -> None:
        name = motif.name[: self.width]
        cx, cy = self.cell(motif.x, motif.y)
        left = min(max(0, cx - len(name) // 2), self.width - len(name))
        for y in (cy, cy + 1, cy - 1, cy + 2, cy - 2):
            cells = [(x, y) for x in range(left, left + len(name))]
            if 0 <= y < self.height and taken.isdisjoint(cells):
                break
        else:
            return
        style = self._style(_ink_for(motif.colour), motif.colour) + Style(bold=True)
        for (x, _), char in zip(cells, name, strict=True):
            self._chars[y][x] = char
            self._styles[y][x] = style
        taken.update(cells)

    # --- reading -------------------------------------------------------------------------

    def strip(self, y: int) -> Strip:
        """Row ``y`` as a strip of runs of one style each (built once per frame)."""
        if not 0 <= y < self.height:
            return Strip.blank(self.width, self.base)
        cached = self._strips[y]
        if cached is not None:
            return cached
        row, styles = self._chars[y], self._styles[y]
        segments: list[Segment] = []
        start = 0
        for x in range(1, self.width + 1):
            if x == self.width or styles[x] is not styles[start]:
                segments.append(Segment("".join(row[start:x]), styles[start]))
                start = x
        strip = self._strips[y] = Strip(segments, self.width)
        return strip

    def lines(self) -> list[str]:
        """The field as plain text, a line per row (for tests and plain dumps)."""
        return ["".join(row) for row in self._chars]

    def radius_rows(self) -> float:
        """The radius, in rows, of the heaviest motif's blob."""
        return max(1.0, 0.22 * min(self.height, self.width / 2.0))

    def _cell_f(self, x: float, y: float) -> tuple[float, float]:
        return x * (self.width - 1), y * (self.height - 1)

    def cell(self, x: float, y: float) -> tuple[int, int]:
        fx, fy = self._cell_f(x, y)
        return round(fx), round(fy)

    def _style(self, colour: str | None, background: str | None) -> Style:
        key = (colour or "", background)
        style = self._styles_cache.get(key)
        if style is None:
            style = self._styles_cache[key] = self.base + Style(color=colour, bgcolor=background)
        return style


def _nearest(x: int, y: int, centres: Sequence[tuple[float, float]]) -> int:
    """The index of the centre nearest to cell (x, y), rows counting double (cell aspect)."""
    best, best_d = 0, math.inf
    for i, (cx, cy) in enumerate(centres):
        d = (x - cx) ** 2 + (2.0 * (y - cy)) ** 2
        if d < best_d:
            best, best_d = i, d
    return best


def _ink_for(colour: str) -> str:
    """Black or white, whichever reads better on ``colour``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"
