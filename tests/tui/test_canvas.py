"""The dreamscape drawn into character cells, without Textual running: blobs, labels, fractures."""

from __future__ import annotations

from rich.style import Style

from dreamcommons.client.tui.canvas import BOUNDARY, SHADES, FieldCanvas, Placed
from dreamcommons.contracts.protocol import RegionView, SceneView

WIDTH, HEIGHT = 60, 20


def drawn(motifs: list[Placed], scene: SceneView | None = None) -> FieldCanvas:
    canvas = FieldCanvas()
    canvas.resize(WIDTH, HEIGHT)
    canvas.draw(motifs, scene or SceneView())
    return canvas


def style_at(canvas: FieldCanvas, x: int, y: int) -> Style:
    column = 0
    for segment in canvas.strip(y):
        if column <= x < column + len(segment.text):
            assert segment.style is not None
            return segment.style
        column += len(segment.text)
    raise AssertionError(f"no cell at {x}")


def split_scene(*centres: tuple[float, float]) -> SceneView:
    regions = tuple(
        RegionView(id=i, x=x, y=y, participants=(f"p{i}",), motifs=())
        for i, (x, y) in enumerate(centres)
    )
    return SceneView(fractured=True, regions=regions, coherence=0.2, sleepers=2)


def test_a_motif_is_a_blob_in_its_colour_with_its_name_on_top() -> None:
    canvas = drawn([Placed("moon", "#e0e0ff", 2.0, 0.9, 0.5, 0.5)])
    lines = canvas.lines()
    x, y = canvas.cell(0.5, 0.5)
    assert "moon" in lines[y]
    assert lines[y - 2][x] in "░▒▓█"
    assert style_at(canvas, x, y - 2).color is not None
    assert style_at(canvas, x, y - 2).color.name == "#e0e0ff"  # type: ignore[union-attr]
    assert "█" in "".join(lines)  # intense: solid at the heart
    assert lines[0].strip() == ""  # and the field is empty far from it


def test_intensity_sets_the_density_and_weight_the_size() -> None:
    faint = drawn([Placed("mist", "#a0a0a0", 1.0, 0.0, 0.5, 0.5)])
    assert "█" not in "".join(faint.lines())
    canvas = drawn(
        [
            Placed("seed", "#8fb339", 1.0, 0.7, 0.25, 0.5),
            Placed("oak", "#dd7373", 4.0, 0.7, 0.75, 0.5),
        ]
    )
    middle = WIDTH // 2
    light = sum(c in SHADES for line in canvas.lines() for c in line[:middle])
    heavy = sum(c in SHADES for line in canvas.lines() for c in line[middle:])
    assert heavy > 2 * light > 0


def test_a_whole_scene_has_no_boundaries() -> None:
    whole = split_scene((0.25, 0.5), (0.75, 0.5)).model_copy(update={"fractured": False})
    text = "".join(drawn([], whole).lines())
    assert not set(BOUNDARY.values()) & set(text)
    assert "◇" not in text


def test_a_fractured_scene_is_split_into_tinted_regions() -> None:
    canvas = drawn(
        [
            Placed("moon", "#e0e0ff", 1.0, 0.8, 0.25, 0.8),
            Placed("ember", "#ff8040", 1.0, 0.8, 0.75, 0.8),
        ],
        split_scene((0.25, 0.5), (0.75, 0.5)),
    )
    lines = canvas.lines()
    middle = WIDTH // 2
    for y in (0, HEIGHT - 1):  # away from the blobs, the boundary runs down the middle
        assert lines[y][middle - 1 : middle + 1].count("│") == 1
    assert "◇1" in "".join(lines)
    assert "◇2" in "".join(lines)
    left, right = style_at(canvas, 2, 0).bgcolor, style_at(canvas, WIDTH - 3, 0).bgcolor
    assert left is not None
    assert right is not None
    assert left != right
    assert "moon" in lines[canvas.cell(0.25, 0.8)[1]][:middle]
    assert "ember" in lines[canvas.cell(0.75, 0.8)[1]][middle:]
